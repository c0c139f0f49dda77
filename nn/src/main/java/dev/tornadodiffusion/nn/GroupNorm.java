package dev.tornadodiffusion.nn;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

/** torch.nn.GroupNorm (affine), optionally fused with the SiLU that follows it everywhere in a UNet. */
public final class GroupNorm {
    public final Tensor weight, bias;
    public final int numGroups;
    public final float eps;
    private final Backend be;

    public GroupNorm(Params p, int numGroups, int channels, float eps) {
        this.weight = p.get("weight", channels);
        this.bias = p.get("bias", channels);
        this.numGroups = numGroups;
        this.eps = eps;
        this.be = p.backend();
    }

    public Tensor forward(Tensor x) {
        return be.groupNorm(x, numGroups, weight, bias, eps, false);
    }

    /** {@code silu(groupNorm(x))} in one pass. */
    public Tensor forwardSilu(Tensor x) {
        return be.groupNorm(x, numGroups, weight, bias, eps, true);
    }
}
