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

    public CrossAttnDownBlock2D(Params p, UNetBlockConfig c) {
        int out = c.out_channels();
        for (int i = 0; i < c.num_layers(); i++) {
            resnets.add(new ResnetBlock2D(p.child("resnets").child(i), i == 0 ? c.in_channels() : out, out,
                    c.temb_channels(), c.resnet_groups(), c.resnet_eps(), 1f));
            attentions.add(new Transformer2DModel(p.child("attentions").child(i), c.num_attention_heads(), out / c.num_attention_heads(),
                    out, c.transformer_layers_per_block()[i], c.cross_attention_dim(), c.resnet_groups(), c.use_linear_projection()));
        }
        this.downsampler = c.add_downsample() ? new Downsample2D(p.child("downsamplers").child(0), out, out, c.downsample_padding()) : null;
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
