package dev.tornadodiffusion.nn.unet;

import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.nn.ResnetBlock2D;
import dev.tornadodiffusion.nn.Transformer2DModel;
import dev.tornadodiffusion.tensor.Tensor;

/** diffusers' {@code UNetMidBlock2DCrossAttn} with num_layers 1: resnet, Transformer2DModel, resnet, at constant width. */
public final class UNetMidBlock2DCrossAttn {
    public final ResnetBlock2D resnet0, resnet1;
    public final Transformer2DModel attention;

    public UNetMidBlock2DCrossAttn(Params p, UNetBlockConfig c) {
        int ch = c.in_channels();
        this.resnet0 = new ResnetBlock2D(p.child("resnets").child(0), ch, ch, c.temb_channels(), c.resnet_groups(), c.resnet_eps(), c.output_scale_factor());
        this.attention = new Transformer2DModel(p.child("attentions").child(0), c.num_attention_heads(), ch / c.num_attention_heads(),
                ch, c.transformer_layers_per_block()[0], c.cross_attention_dim(), c.resnet_groups(), c.use_linear_projection());
        this.resnet1 = new ResnetBlock2D(p.child("resnets").child(1), ch, ch, c.temb_channels(), c.resnet_groups(), c.resnet_eps(), c.output_scale_factor());
    }

    public Tensor forward(Tensor hidden, Tensor temb, Tensor encoderHiddenStates) {
        hidden = resnet0.forward(hidden, temb);
        hidden = attention.forward(hidden, encoderHiddenStates);
        return resnet1.forward(hidden, temb);
    }
}
