package dev.tornadodiffusion.nn.vae;

import dev.tornadodiffusion.nn.Conv2d;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

/** diffusers' {@code AutoencoderTinyBlock} with equal widths: {@code relu(conv(relu(conv(relu(conv(x))))) + x)}. */
public final class AutoencoderTinyBlock {
    /** {@code conv.0}, {@code conv.2}, {@code conv.4} (the ReLUs between them have no weights). */
    public final Conv2d conv0, conv2, conv4;
    private final Backend be;

    public AutoencoderTinyBlock(Params p, int channels) {
        this.conv0 = new Conv2d(p.child("conv").child(0), channels, channels, 3, 1, 1);
        this.conv2 = new Conv2d(p.child("conv").child(2), channels, channels, 3, 1, 1);
        this.conv4 = new Conv2d(p.child("conv").child(4), channels, channels, 3, 1, 1);
        this.be = p.backend();
    }

    public Tensor forward(Tensor x) {
        Tensor h = relu(be, conv0.forward(x));
        h = relu(be, conv2.forward(h));
        h = conv4.forward(h);
        return relu(be, be.add(h, x)); // fuse
    }

    static Tensor relu(Backend be, Tensor x) {
        return be.clamp(x, 0f, Float.POSITIVE_INFINITY);
    }
}
