package dev.tornadodiffusion.nn.xlmr;

import dev.tornadodiffusion.nn.LayerNorm;
import dev.tornadodiffusion.nn.Linear;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * transformers' {@code XLMRobertaLayer} (= BertLayer), post-LayerNorm: self-attention with a key mask, then
 * {@code LayerNorm(x + dense(attn))}, then {@code LayerNorm(h + output(gelu(intermediate(h))))}.
 */
public final class XlmRobertaLayer {
    public final Linear query, key, value, attention_output, intermediate, output;
    public final LayerNorm attention_norm, output_norm;
    private final int heads;
    private final Backend be;

    public XlmRobertaLayer(Params p, XlmRobertaConfig c) {
        int d = c.hidden_size(), ff = c.intermediate_size();
        Params self = p.child("attention").child("self"), attnOut = p.child("attention").child("output");
        this.query = new Linear(self.child("query"), d, d, true);
        this.key = new Linear(self.child("key"), d, d, true);
        this.value = new Linear(self.child("value"), d, d, true);
        this.attention_output = new Linear(attnOut.child("dense"), d, d, true);
        this.attention_norm = new LayerNorm(attnOut.child("LayerNorm"), d, c.layer_norm_eps());
        this.intermediate = new Linear(p.child("intermediate").child("dense"), d, ff, true);
        this.output = new Linear(p.child("output").child("dense"), ff, d, true);
        this.output_norm = new LayerNorm(p.child("output").child("LayerNorm"), d, c.layer_norm_eps());
        this.heads = c.num_attention_heads();
        this.be = p.backend();
    }

    /**
     * @param x    [B, N, D]
     * @param keys per batch row, the positions its attention may look at (attention_mask 1), or null for all
     */
    public Tensor forward(Tensor x, long[][] keys) {
        // 1. self-attention; a masked key gets weight exactly 0 upstream (score + finfo.min), so it is left out
        Tensor q = query.forward(x), k = key.forward(x), v = value.forward(x);
        Tensor a = keys == null ? be.attention(q, k, v, heads, false) : maskedAttention(q, k, v, keys);
        // 2. post-LN residuals
        Tensor h = attention_norm.forward(be.add(attention_output.forward(a), x));
        Tensor f = output.forward(be.gelu(intermediate.forward(h)));
        return output_norm.forward(be.add(f, h));
    }

    private Tensor maskedAttention(Tensor q, Tensor k, Tensor v, long[][] keys) {
        int b = q.dim(0), n = q.dim(1), d = q.dim(2);
        Tensor[] rows = new Tensor[b];
        for (int i = 0; i < b; i++) {
            Tensor qi = q.narrow(0, i, 1), ki = k.narrow(0, i, 1), vi = v.narrow(0, i, 1);
            if (keys[i].length == 0) {
                // every key masked: upstream's scores are all finfo.min, so the weights are uniform; a zero query gives that
                rows[i] = be.attention(be.scale(qi, 0f), ki, vi, heads, false);
            } else if (keys[i].length == n) {
                rows[i] = be.attention(qi, ki, vi, heads, false);
            } else {
                Tensor idx = Tensor.ofLongs(keys[i], 1, keys[i].length);
                rows[i] = be.attention(qi, be.embedding(ki.reshape(n, d), idx), be.embedding(vi.reshape(n, d), idx), heads, false);
            }
        }
        return b == 1 ? rows[0] : be.concat(0, rows);
    }
}
