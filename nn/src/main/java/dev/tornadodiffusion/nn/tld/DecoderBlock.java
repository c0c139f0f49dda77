package dev.tornadodiffusion.nn.tld;

import dev.tornadodiffusion.nn.Conv2d;
import dev.tornadodiffusion.nn.LayerNorm;
import dev.tornadodiffusion.nn.Linear;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * TLD's {@code DecoderBlock} (tld/transformer_blocks.py), pre-LayerNorm: self-attention over the image tokens,
 * cross-attention to the conditioning tokens, then {@code MLPSepConv} (1x1 conv, depthwise 3x3 conv, GELU, 1x1 conv
 * on the token grid), each added to the residual. The attentions have no bias and no output projection.
 */
public final class DecoderBlock {
    public final Linear qkv_linear, q_linear, kv_linear;
    public final Conv2d mlp0, mlp1, mlp3;
    public final LayerNorm norm1, norm2, norm3;
    private final int dim, heads, grid;
    private final Backend be;

    public DecoderBlock(Params p, DenoiserConfig c) {
        int d = c.embed_dim(), hidden = c.mlp_multiplier() * d;
        this.qkv_linear = new Linear(p.child("self_attention").child("qkv_linear"), d, 3 * d, false);
        this.kv_linear = new Linear(p.child("cross_attention").child("kv_linear"), d, 2 * d, false);
        this.q_linear = new Linear(p.child("cross_attention").child("q_linear"), d, d, false);
        Params mlp = p.child("mlp").child("mlp");
        this.mlp0 = new Conv2d(mlp.child(0), d, hidden, 1, 1, 0);
        this.mlp1 = new Conv2d(mlp.child(1), hidden, hidden, 3, 1, 1, hidden, true);
        this.mlp3 = new Conv2d(mlp.child(3), hidden, d, 1, 1, 0);
        this.norm1 = new LayerNorm(p.child("norm1"), d, 1e-5f);
        this.norm2 = new LayerNorm(p.child("norm2"), d, 1e-5f);
        this.norm3 = new LayerNorm(p.child("norm3"), d, 1e-5f);
        this.dim = d;
        this.heads = c.n_heads();
        this.grid = c.grid();
        this.be = p.backend();
    }

    /** x [B, grid*grid, D] image tokens, cond [B, M, D] -> [B, grid*grid, D]. */
    public Tensor forward(Tensor x, Tensor cond) {
        Tensor[] qkv = qkv_linear.forward(norm1.forward(x)).chunk(3, 2);
        x = be.add(be.attention(qkv[0], qkv[1], qkv[2], heads, false), x);
        Tensor[] kv = kv_linear.forward(cond).chunk(2, 2);
        x = be.add(be.attention(q_linear.forward(norm2.forward(x)), kv[0], kv[1], heads, false), x);
        return be.add(mlp(norm3.forward(x)), x);
    }

    /** MLPSepConv on the tokens laid out as a [B, D, grid, grid] image. */
    private Tensor mlp(Tensor x) {
        int b = x.dim(0);
        Tensor img = be.contiguous(x.transpose(1, 2)).reshape(b, dim, grid, grid);
        Tensor h = mlp3.forward(be.gelu(mlp1.forward(mlp0.forward(img))));
        return be.contiguous(h.reshape(b, dim, grid * grid).transpose(1, 2));
    }
}
