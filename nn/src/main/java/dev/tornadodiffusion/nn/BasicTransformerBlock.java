package dev.tornadodiffusion.nn;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * diffusers' {@code BasicTransformerBlock} (models/attention.py) with norm_type "layer_norm", as in every
 * SD/SDXL UNet: pre-LayerNorm self-attention, cross-attention on the text states, GEGLU feed-forward,
 * each added back to the residual stream.
 */
public final class BasicTransformerBlock {
    public final LayerNorm norm1, norm2, norm3;
    public final Attention attn1, attn2;
    public final FeedForward ff;
    private final Backend be;

    public BasicTransformerBlock(Params p, int dim, int heads, int headDim, int crossAttentionDim) {
        int inner = heads * headDim;
        this.norm1 = new LayerNorm(p.child("norm1"), dim, 1e-5f);
        this.attn1 = new Attention(p.child("attn1"), dim, dim, heads, inner, false);
        this.norm2 = new LayerNorm(p.child("norm2"), dim, 1e-5f);
        this.attn2 = new Attention(p.child("attn2"), dim, crossAttentionDim, heads, inner, false);
        this.norm3 = new LayerNorm(p.child("norm3"), dim, 1e-5f);
        this.ff = new FeedForward(p.child("ff"), dim, 4 * dim);
        this.be = p.backend();
    }

    /** hidden [B, N, dim], encoderHiddenStates [B, M, cross_attention_dim] -> [B, N, dim]. */
    public Tensor forward(Tensor hidden, Tensor encoderHiddenStates) {
        hidden = be.add(attn1.forward(norm1.forward(hidden), null), hidden);
        // one text token (sdxs): the attention weights are exactly 1, so norm2, to_q, to_k and the score pass are skipped
        Tensor cross = encoderHiddenStates.dim(1) == 1 ? attn2.forwardSingleToken(encoderHiddenStates)
                : attn2.forward(norm2.forward(hidden), encoderHiddenStates);
        hidden = be.add(cross, hidden);
        return be.add(ff.forward(norm3.forward(hidden)), hidden);
    }
}
