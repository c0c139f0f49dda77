package dev.tornadodiffusion.nn.vae;

import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.nn.ResnetBlock2D;
import dev.tornadodiffusion.nn.Upsample2D;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/** diffusers' {@code UpDecoderBlock2D}: resnets without time embedding, then (except the last level) an Upsample2D. */
public final class UpDecoderBlock2D {
    public final List<ResnetBlock2D> resnets = new ArrayList<>();
    /** Null on the last level. */
    public final Upsample2D upsampler;

    public UpDecoderBlock2D(Params p, int in, int out, int layers, int groups, float eps, boolean addUpsample) {
        for (int i = 0; i < layers; i++)
            resnets.add(new ResnetBlock2D(p.child("resnets").child(i), i == 0 ? in : out, out, null, groups, eps, 1f));
        this.upsampler = addUpsample ? new Upsample2D(p.child("upsamplers").child(0), out, out) : null;
    }

    public Tensor forward(Tensor x) {
        for (ResnetBlock2D r : resnets) x = r.forward(x, null);
        return upsampler == null ? x : upsampler.forward(x);
    }
}
