package dev.tornadodiffusion.nn.unet;

import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.nn.ResnetBlock2D;
import dev.tornadodiffusion.nn.Transformer2DModel;
import dev.tornadodiffusion.nn.Upsample2D;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * diffusers' {@code CrossAttnUpBlock2D}: each layer is a resnet over [hidden, skip] concatenated on channels
 * followed by a Transformer2DModel; then an optional 2x upsampler.
 */
public final class CrossAttnUpBlock2D implements UpBlock {
    public final List<ResnetBlock2D> resnets = new ArrayList<>();
    public final List<Transformer2DModel> attentions = new ArrayList<>();
    public final Upsample2D upsampler;
    private final Backend be;

    public CrossAttnUpBlock2D(Params p, UNetBlockConfig c) {
        int n = c.num_layers(), out = c.out_channels();
        for (int i = 0; i < n; i++) {
            int resSkipChannels = i == n - 1 ? c.in_channels() : out;
            int resnetInChannels = i == 0 ? c.prev_output_channel() : out;
            resnets.add(new ResnetBlock2D(p.child("resnets").child(i), resnetInChannels + resSkipChannels, out,
                    c.temb_channels(), c.resnet_groups(), c.resnet_eps(), 1f));
            attentions.add(new Transformer2DModel(p.child("attentions").child(i), c.num_attention_heads(), out / c.num_attention_heads(),
                    out, c.transformer_layers_per_block()[i], c.cross_attention_dim(), c.resnet_groups(), c.use_linear_projection()));
        }
        this.upsampler = c.add_upsample() ? new Upsample2D(p.child("upsamplers").child(0), out, out) : null;
        this.be = p.backend();
    }

    @Override public int numLayers() { return resnets.size(); }

    @Override
    public Tensor forward(Tensor hidden, List<Tensor> resHiddenStates, Tensor temb, Tensor encoderHiddenStates, int[] upsampleSize) {
        for (int i = 0; i < resnets.size(); i++) {
            Tensor skip = resHiddenStates.get(resHiddenStates.size() - 1 - i);
            hidden = resnets.get(i).forward(be.concat(1, hidden, skip), temb);
            hidden = attentions.get(i).forward(hidden, encoderHiddenStates);
        }
        if (upsampler == null) return hidden;
        return upsampleSize == null ? upsampler.forward(hidden) : upsampler.forward(hidden, upsampleSize[0], upsampleSize[1]);
    }
}
