package dev.tornadodiffusion.nn.clip;

import dev.tornadodiffusion.nn.LayerNorm;
import dev.tornadodiffusion.nn.Linear;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * transformers' {@code CLIPEncoderLayer}: pre-LayerNorm causal self-attention (q/k/v/out_proj, all with bias)
 * and an MLP fc1 -> quick_gelu | gelu -> fc2, each added to the residual stream.
 */
public final class ClipEncoderLayer {
    public final Linear q_proj, k_proj, v_proj, out_proj, fc1, fc2;
    public final LayerNorm layer_norm1, layer_norm2;
    private final int heads;
    private final boolean quickGelu;
    private final Backend be;

    public ClipEncoderLayer(Params p, ClipTextConfig c) {
        int d = c.hidden_size();
        Params attn = p.child("self_attn"), mlp = p.child("mlp");
        this.q_proj = new Linear(attn.child("q_proj"), d, d, true);
        this.k_proj = new Linear(attn.child("k_proj"), d, d, true);
        this.v_proj = new Linear(attn.child("v_proj"), d, d, true);
        this.out_proj = new Linear(attn.child("out_proj"), d, d, true);
        this.layer_norm1 = new LayerNorm(p.child("layer_norm1"), d, c.layer_norm_eps());
        this.fc1 = new Linear(mlp.child("fc1"), d, c.intermediate_size(), true);
        this.fc2 = new Linear(mlp.child("fc2"), c.intermediate_size(), d, true);
        this.layer_norm2 = new LayerNorm(p.child("layer_norm2"), d, c.layer_norm_eps());
        this.heads = c.num_attention_heads();
        this.quickGelu = c.hidden_act().equals("quick_gelu");
        this.be = p.backend();
    }

    /** x [B, N, D] -> [B, N, D]. */
    public Tensor forward(Tensor x) {
        Tensor h = layer_norm1.forward(x);
        h = be.attention(q_proj.forward(h), k_proj.forward(h), v_proj.forward(h), heads, true);
        x = be.add(x, out_proj.forward(h));
        h = fc1.forward(layer_norm2.forward(x));
        h = quickGelu ? be.quickGelu(h) : be.gelu(h);
        return be.add(x, fc2.forward(h));
    }
}
