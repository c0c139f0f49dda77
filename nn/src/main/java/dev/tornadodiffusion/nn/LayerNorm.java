package dev.tornadodiffusion.nn;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

/** torch.nn.LayerNorm over the last dimension. */
public final class LayerNorm {
    public final Tensor weight, bias;
    public final float eps;
    private final Backend be;

    public LayerNorm(Params p, int dim, float eps, boolean affine) {
        this.weight = affine ? p.get("weight", dim) : null;
        this.bias = affine ? p.get("bias", dim) : null;
        this.eps = eps;
        this.be = p.backend();
    }

    public LayerNorm(Params p, int dim, float eps) {
        this(p, dim, eps, true);
    }

    public Tensor forward(Tensor x) {
        return be.layerNorm(x, weight, bias, eps);
    }
}
