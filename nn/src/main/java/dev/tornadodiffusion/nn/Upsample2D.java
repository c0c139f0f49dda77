package dev.tornadodiffusion.nn;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

/** diffusers' {@code Upsample2D} with use_conv=True: nearest-neighbour upsampling, then a 3x3 conv (key {@code conv}). */
public final class Upsample2D {
    public final Conv2d conv;
    private final Backend be;

    public Upsample2D(Params p, int channels, int outChannels) {
        this.conv = new Conv2d(p.child("conv"), channels, outChannels, 3, 1, 1);
        this.be = p.backend();
    }

    /** Doubles height and width. */
    public Tensor forward(Tensor x) {
        return conv.forward(be.upsampleNearest2x(x));
    }

    /**
     * Upsamples to {@code outH x outW}, as {@code F.interpolate(size=...)}: the UNet passes the size of the skip
     * connection when the latent is not a multiple of 2^downsamplers. A stride-2 conv halves a size rounding up, so
     * the target is 2h or 2h-1; nearest source index floor(i * h / out) is then i / 2 in both cases, i.e. the 2x
     * upsampling cropped to the target size.
     */
    public Tensor forward(Tensor x, int outH, int outW) {
        int h = x.dim(2), w = x.dim(3);
        if ((outH != 2 * h && outH != 2 * h - 1) || (outW != 2 * w && outW != 2 * w - 1))
            throw new IllegalArgumentException("Upsample2D: cannot resize " + h + "x" + w + " to " + outH + "x" + outW + " (only 2x, or 2x minus one)");
        Tensor up = be.upsampleNearest2x(x);
        if (outH != 2 * h) up = up.narrow(2, 0, outH);
        if (outW != 2 * w) up = up.narrow(3, 0, outW);
        return conv.forward(up);
    }
}
