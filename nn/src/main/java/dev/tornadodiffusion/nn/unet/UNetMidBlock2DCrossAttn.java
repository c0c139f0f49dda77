package dev.tornadodiffusion.nn.unet;

import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.nn.ResnetBlock2D;
import dev.tornadodiffusion.nn.Transformer2DModel;
import dev.tornadodiffusion.tensor.Tensor;

/** diffusers' {@code UNetMidBlock2DCrossAttn} with num_layers 1: resnet, Transformer2DModel, resnet, at constant width. */
public final class UNetMidBlock2DCrossAttn {
    public final ResnetBlock2D resnet0, resnet1;
    public final Transformer2DModel attention;

    public UNetMidBlock2DCrossAttn(Params p, int inChannels, int tembChannels, float resnetEps, int resnetGroups,
                                   float outputScaleFactor, int transformerLayers, int numAttentionHeads,
                                   int crossAttentionDim, boolean useLinearProjection) {
        this.resnet0 = new ResnetBlock2D(p.child("resnets").child(0), inChannels, inChannels, tembChannels, resnetGroups, resnetEps, outputScaleFactor);
        this.attention = new Transformer2DModel(p.child("attentions").child(0), numAttentionHeads, inChannels / numAttentionHeads,
                inChannels, transformerLayers, crossAttentionDim, resnetGroups, useLinearProjection);
        this.resnet1 = new ResnetBlock2D(p.child("resnets").child(1), inChannels, inChannels, tembChannels, resnetGroups, resnetEps, outputScaleFactor);
    }

    public Tensor forward(Tensor hidden, Tensor temb, Tensor encoderHiddenStates) {
        hidden = resnet0.forward(hidden, temb);
        hidden = attention.forward(hidden, encoderHiddenStates);
        return resnet1.forward(hidden, temb);
    }
}
