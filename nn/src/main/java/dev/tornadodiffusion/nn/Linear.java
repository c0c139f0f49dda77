package dev.tornadodiffusion.nn;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

/** {@code y = x W^T + b} over the last dimension (torch.nn.Linear). */
public final class Linear {
    public final Tensor weight, bias;
    public final int inFeatures, outFeatures;
    private final Backend be;

    public Linear(Params p, int inFeatures, int outFeatures, boolean bias) {
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
        this.weight = p.get("weight", outFeatures, inFeatures);
        this.bias = bias ? p.get("bias", outFeatures) : null;
        this.be = p.backend();
    }

    /** A Linear over given tensors, e.g. a 1x1 convolution's weight viewed as [out, in]. */
    public Linear(Tensor weight, Tensor bias, Backend be) {
        this.outFeatures = weight.dim(0);
        this.inFeatures = weight.dim(1);
        this.weight = weight;
        this.bias = bias;
        this.be = be;
    }

    public Tensor forward(Tensor x) {
        return be.linear(x, weight, bias);
    }
}
