package dev.tornadodiffusion.nn;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Compare;
import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** A transformer block given one text token takes the single-token path; it must equal the full attention. */
class SingleTokenCrossAttentionTest {
    final Backend be = Backends.cpu();

    @Test
    void equalsFullAttentionOverOneKey() {
        int dim = 16, heads = 2, cross = 12;
        MapStateDict w = new MapStateDict();
        Random r = new Random(3);
        BasicTransformerBlock block = new BasicTransformerBlock(new Params(w, be, (key, shape) -> {
            Tensor t = random(r, shape, key.endsWith("norm1.weight") || key.endsWith("norm2.weight") || key.endsWith("norm3.weight") ? 1 : 0);
            w.put(key, t);
            return t;
        }), dim, heads, dim / heads, cross);
        Tensor h = random(r, new int[]{2, 10, dim}, 0), ctx = random(r, new int[]{2, 1, cross}, 0);

        // the attention itself: the general fused kernel rounds its one weight near 1 (~1 ulp); torch's softmax gives exactly 1 like the short path
        Tensor q = block.norm2.forward(h);
        Compare.Check c = Compare.relative("attn2", be.add(block.attn2.forwardSingleToken(ctx), Tensor.zeros(2, 10, dim)), block.attn2.forward(q, ctx), 1e-6);
        assertTrue(c.pass(), c.toString());
        // the block takes the short path for one token
        Tensor x = be.add(block.attn1.forward(block.norm1.forward(h), null), h);
        x = be.add(block.attn2.forwardSingleToken(ctx), x);
        Tensor want = be.add(block.ff.forward(block.norm3.forward(x)), x);
        assertTrue(Compare.exact("block", block.forward(h, ctx), want).pass());
    }

    private static Tensor random(Random r, int[] shape, float offset) {
        int n = 1;
        for (int d : shape) n *= d;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = offset + (float) r.nextGaussian() * 0.5f;
        return Tensor.of(v, shape);
    }
}
