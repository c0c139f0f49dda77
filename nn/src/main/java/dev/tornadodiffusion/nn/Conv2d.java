package dev.tornadodiffusion.nn;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

/** torch.nn.Conv2d with square kernel, stride and symmetric padding. */
public final class Conv2d {
    public final Tensor weight, bias;
    public final int stride, padding, groups;
    private final Backend be;

    public Conv2d(Params p, int in, int out, int kernel, int stride, int padding, int groups, boolean bias) {
        this.weight = p.get("weight", out, in / groups, kernel, kernel);
        this.bias = bias ? p.get("bias", out) : null;
        this.stride = stride;
        this.padding = padding;
        this.groups = groups;
        this.be = p.backend();
    }

    public Conv2d(Params p, int in, int out, int kernel, int stride, int padding) {
        this(p, in, out, kernel, stride, padding, 1, true);
    }

    public Tensor forward(Tensor x) {
        return be.conv2d(x, weight, bias, stride, padding, groups);
    }
}
