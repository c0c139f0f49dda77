package dev.tornadodiffusion.nn;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * diffusers' {@code FeedForward} with activation_fn "geglu" (models/attention.py, activations.py), the MLP of
 * every UNet transformer block: net.0 is GEGLU, a projection to twice the inner width whose first half is
 * gated by the exact GELU of the second half; net.2 projects back.
 * <p>
 * The net.0.proj weight is used as two Linear layers over its two row halves (zero-copy views), so hidden and
 * gate come out dense instead of as strided halves of one output: the same dot products, no strided copies.
 */
public final class FeedForward {
    /** Rows [0, inner) and [inner, 2 inner) of net.0.proj. */
    public final Linear proj_hidden, proj_gate;
    public final Linear net_2;
    private final Backend be;

    public FeedForward(Params p, int dim, int innerDim) {
        Params proj = p.child("net").child(0).child("proj");
        Tensor w = proj.get("weight", 2 * innerDim, dim), b = proj.get("bias", 2 * innerDim);
        this.be = p.backend();
        this.proj_hidden = new Linear(w.narrow(0, 0, innerDim), b.narrow(0, 0, innerDim), be);
        this.proj_gate = new Linear(w.narrow(0, innerDim, innerDim), b.narrow(0, innerDim, innerDim), be);
        this.net_2 = new Linear(p.child("net").child(2), innerDim, dim, true);
    }

    public Tensor forward(Tensor x) {
        return net_2.forward(be.mul(proj_hidden.forward(x), be.gelu(proj_gate.forward(x))));
    }
}
