package dev.tornadodiffusion.nn.vae;

import dev.tornadodiffusion.nn.Downsample2D;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.nn.ResnetBlock2D;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/** diffusers' {@code DownEncoderBlock2D}: resnets without time embedding, then (except the last level) a Downsample2D with padding 0. */
public final class DownEncoderBlock2D {
    public final List<ResnetBlock2D> resnets = new ArrayList<>();
    /** Null on the last level. */
    public final Downsample2D downsampler;

    public DownEncoderBlock2D(Params p, int in, int out, int layers, int groups, float eps, boolean addDownsample) {
        for (int i = 0; i < layers; i++)
            resnets.add(new ResnetBlock2D(p.child("resnets").child(i), i == 0 ? in : out, out, null, groups, eps, 1f));
        this.downsampler = addDownsample ? new Downsample2D(p.child("downsamplers").child(0), out, out, 0) : null;
    }

    public Tensor forward(Tensor x) {
        for (ResnetBlock2D r : resnets) x = r.forward(x, null);
        return downsampler == null ? x : downsampler.forward(x);
    }
}
