package dev.tornadodiffusion.nn;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * diffusers' {@code FeedForward} with activation_fn "geglu" (models/attention.py, activations.py), the MLP of
 * every UNet transformer block: net.0 is GEGLU, a projection to twice the inner width whose first half is
 * gated by the exact GELU of the second half; net.2 projects back.
 */
public final class FeedForward {
    public final Linear net_0_proj, net_2;
    private final Backend be;

    public FeedForward(Params p, int dim, int innerDim) {
        this.net_0_proj = new Linear(p.child("net").child(0).child("proj"), dim, 2 * innerDim, true);
        this.net_2 = new Linear(p.child("net").child(2), innerDim, dim, true);
        this.be = p.backend();
    }

    public Tensor forward(Tensor x) {
        Tensor[] hiddenGate = net_0_proj.forward(x).chunk(2, -1);
        return net_2.forward(be.mul(hiddenGate[0], be.gelu(hiddenGate[1])));
    }
}
