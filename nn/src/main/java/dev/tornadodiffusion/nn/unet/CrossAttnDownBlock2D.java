package dev.tornadodiffusion.nn.unet;

import dev.tornadodiffusion.nn.Downsample2D;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.nn.ResnetBlock2D;
import dev.tornadodiffusion.nn.Transformer2DModel;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * diffusers' {@code CrossAttnDownBlock2D}: each layer is a resnet followed by a Transformer2DModel attending to
 * the text states; then an optional stride-2 downsampler.
 */
public final class CrossAttnDownBlock2D implements DownBlock {
    public final List<ResnetBlock2D> resnets = new ArrayList<>();
    public final List<Transformer2DModel> attentions = new ArrayList<>();
    public final Downsample2D downsampler;

    /** @param transformerLayers depth of each layer's Transformer2DModel */
    public CrossAttnDownBlock2D(Params p, int numLayers, int[] transformerLayers, int inChannels, int outChannels,
                                int tembChannels, boolean addDownsample, float resnetEps, int resnetGroups,
                                int downsamplePadding, int crossAttentionDim, int numAttentionHeads, boolean useLinearProjection) {
        for (int i = 0; i < numLayers; i++) {
            resnets.add(new ResnetBlock2D(p.child("resnets").child(i), i == 0 ? inChannels : outChannels, outChannels,
                    tembChannels, resnetGroups, resnetEps, 1f));
            attentions.add(new Transformer2DModel(p.child("attentions").child(i), numAttentionHeads, outChannels / numAttentionHeads,
                    outChannels, transformerLayers[i], crossAttentionDim, resnetGroups, useLinearProjection));
        }
        this.downsampler = addDownsample ? new Downsample2D(p.child("downsamplers").child(0), outChannels, outChannels, downsamplePadding) : null;
    }

    @Override
    public Tensor forward(Tensor hidden, Tensor temb, Tensor encoderHiddenStates, List<Tensor> outputStates) {
        for (int i = 0; i < resnets.size(); i++) {
            hidden = resnets.get(i).forward(hidden, temb);
            hidden = attentions.get(i).forward(hidden, encoderHiddenStates);
            outputStates.add(hidden);
        }
        if (downsampler != null) {
            hidden = downsampler.forward(hidden);
            outputStates.add(hidden);
        }
        return hidden;
    }
}
