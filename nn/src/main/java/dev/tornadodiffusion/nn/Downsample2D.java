package dev.tornadodiffusion.nn;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * diffusers' {@code Downsample2D} with use_conv=True: a 3x3 stride-2 convolution (key {@code conv}).
 * With padding 0 (the VAE encoder) the input is first zero-padded by one on the right and bottom only,
 * which symmetric conv padding cannot express.
 */
public final class Downsample2D {
    public final Conv2d conv;
    public final int padding;
    private final Backend be;

    public Downsample2D(Params p, int channels, int outChannels, int padding) {
        this.conv = new Conv2d(p.child("conv"), channels, outChannels, 3, 2, padding);
        this.padding = padding;
        this.be = p.backend();
    }

    public Tensor forward(Tensor x) {
        return conv.forward(padding == 0 ? be.pad2d(x, 0, 1, 0, 1) : x);
    }
}
