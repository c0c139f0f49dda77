package dev.tornadodiffusion.nn;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * diffusers' {@code Attention} (models/attention_processor.py) as the UNet and VAE use it:
 * to_q / to_k / to_v projections, fused multi-head scaled-dot-product attention, to_out.0.
 * Self-attention when no encoder states are given, cross-attention otherwise.
 */
public final class Attention {
    public final Linear to_q, to_k, to_v, to_out;
    public final int heads;
    private final Backend be;

    /**
     * @param queryDim     channels of the hidden states
     * @param crossDim     channels of the encoder states (= queryDim for self-attention)
     * @param heads        number of heads; head size = innerDim / heads
     * @param innerDim     heads * dim_head
     * @param qkvBias      whether to_q/to_k/to_v have a bias (UNet: no; VAE: yes)
     */
    public Attention(Params p, int queryDim, int crossDim, int heads, int innerDim, boolean qkvBias) {
        this.to_q = new Linear(p.child("to_q"), queryDim, innerDim, qkvBias);
        this.to_k = new Linear(p.child("to_k"), crossDim, innerDim, qkvBias);
        this.to_v = new Linear(p.child("to_v"), crossDim, innerDim, qkvBias);
        this.to_out = new Linear(p.child("to_out").child(0), innerDim, queryDim, true);
        this.heads = heads;
        this.be = p.backend();
    }

    /** hidden [B, N, queryDim], context [B, M, crossDim] or null -> [B, N, queryDim]. */
    public Tensor forward(Tensor hidden, Tensor context) {
        Tensor ctx = context == null ? hidden : context;
        Tensor q = to_q.forward(hidden), k = to_k.forward(ctx), v = to_v.forward(ctx);
        return to_out.forward(be.attention(q, k, v, heads, false));
    }

    /**
     * Cross-attention over a context of ONE token: the softmax over a single key is exactly 1, so every query
     * position gets {@code to_out(to_v(token))} whatever it is (to_q and to_k have no effect). context [B, 1, crossDim]
     * -> [B, 1, queryDim], to be broadcast over the positions.
     */
    public Tensor forwardSingleToken(Tensor context) {
        if (context.dim(1) != 1) throw new IllegalArgumentException("single-token cross-attention needs a context of 1 token, got " + context);
        return to_out.forward(to_v.forward(context));
    }
}
