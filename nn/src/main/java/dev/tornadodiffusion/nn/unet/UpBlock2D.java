package dev.tornadodiffusion.nn.unet;

import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.nn.ResnetBlock2D;
import dev.tornadodiffusion.nn.Upsample2D;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/** diffusers' {@code UpBlock2D}: resnets over [hidden, skip] concatenated on channels, then an optional 2x upsampler. */
public final class UpBlock2D implements UpBlock {
    public final List<ResnetBlock2D> resnets = new ArrayList<>();
    public final Upsample2D upsampler;
    private final Backend be;

    /** {@code c.in_channels()}: the deepest skip this block takes (the last layer's); {@code c.prev_output_channel()}: from the block below. */
    public UpBlock2D(Params p, UNetBlockConfig c) {
        int n = c.num_layers(), out = c.out_channels();
        for (int i = 0; i < n; i++) {
            int resSkipChannels = i == n - 1 ? c.in_channels() : out;
            int resnetInChannels = i == 0 ? c.prev_output_channel() : out;
            resnets.add(new ResnetBlock2D(p.child("resnets").child(i), resnetInChannels + resSkipChannels, out,
                    c.temb_channels(), c.resnet_groups(), c.resnet_eps(), 1f));
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
        }
        if (upsampler == null) return hidden;
        return upsampleSize == null ? upsampler.forward(hidden) : upsampler.forward(hidden, upsampleSize[0], upsampleSize[1]);
    }
}
