package dev.tornadodiffusion.training;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static dev.tornadodiffusion.training.GradCheck.check;
import static dev.tornadodiffusion.training.GradCheck.random;
import static dev.tornadodiffusion.training.GradCheck.uniform;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every op's backward pass against float64 central differences, on small and odd shapes. */
class GradCheckTest {
    /** Float gradients against exact ones: float rounding of the forward and backward ops, relative to the largest gradient. */
    static final double TOL = 1e-5;
    final SplittableRandom r = new SplittableRandom(2026);

    static void ok(double rel) { assertTrue(rel < TOL, "relative error " + rel); }

    @Test
    void matmul() {
        ok(check("matmul [2,3,5]@[5,4]", (be, x) -> be.matmul(x[0], x[1]), random(r, 2, 3, 5), random(r, 5, 4)));
        ok(check("matmul broadcast [3,1,4,5]@[2,5,3]", (be, x) -> be.matmul(x[0], x[1]), random(r, 3, 1, 4, 5), random(r, 2, 5, 3)));
        ok(check("matmul transposed view", (be, x) -> be.matmul(x[0].transpose(0, 1), x[1]), random(r, 6, 3), random(r, 6, 5)));
    }

    @Test
    void linear() {
        ok(check("linear [2,3,7]x[5,7]+b", (be, x) -> be.linear(x[0], x[1], x[2]), random(r, 2, 3, 7), random(r, 5, 7), random(r, 5)));
        ok(check("linear no bias [9,13]x[11,13]", (be, x) -> be.linear(x[0], x[1], null), random(r, 9, 13), random(r, 11, 13)));
    }

    @Test
    void conv2d() {
        ok(check("conv2d 3x3 s1 p1 [2,4,7,6]", (be, x) -> be.conv2d(x[0], x[1], x[2], 1, 1, 1), random(r, 2, 4, 7, 6), random(r, 6, 4, 3, 3), random(r, 6)));
        ok(check("conv2d 3x3 s2 p1 [2,3,9,7]", (be, x) -> be.conv2d(x[0], x[1], x[2], 2, 1, 1), random(r, 2, 3, 9, 7), random(r, 5, 3, 3, 3), random(r, 5)));
        ok(check("conv2d 3x3 s2 p0 [1,3,8,8]", (be, x) -> be.conv2d(x[0], x[1], null, 2, 0, 1), random(r, 1, 3, 8, 8), random(r, 4, 3, 3, 3)));
        ok(check("conv2d 1x1 [2,5,3,4]", (be, x) -> be.conv2d(x[0], x[1], x[2], 1, 0, 1), random(r, 2, 5, 3, 4), random(r, 3, 5, 1, 1), random(r, 3)));
        ok(check("conv2d groups 2 [1,4,5,5]", (be, x) -> be.conv2d(x[0], x[1], x[2], 1, 1, 2), random(r, 1, 4, 5, 5), random(r, 6, 2, 3, 3), random(r, 6)));
        ok(check("conv2d depthwise 3x3 [2,3,6,5]", (be, x) -> be.conv2d(x[0], x[1], x[2], 1, 1, 3), random(r, 2, 3, 6, 5), random(r, 3, 1, 3, 3), random(r, 3)));
        ok(check("conv2d depthwise s2 [1,2,7,7]", (be, x) -> be.conv2d(x[0], x[1], null, 2, 1, 2), random(r, 1, 2, 7, 7), random(r, 2, 1, 3, 3)));
        ok(check("pad2d [2,3,4,5]", (be, x) -> be.pad2d(x[0], 1, 0, 0, 2), random(r, 2, 3, 4, 5)));
    }

    @Test
    void attention() {
        ok(check("attention self [2,5,8] h2", (be, x) -> be.attention(x[0], x[1], x[2], 2, false), random(r, 2, 5, 8), random(r, 2, 5, 8), random(r, 2, 5, 8)));
        ok(check("attention cross [2,7,12]x[2,3,*] h3", (be, x) -> be.attention(x[0], x[1], x[2], 3, false), random(r, 2, 7, 12), random(r, 2, 3, 12), random(r, 2, 3, 6)));
        ok(check("attention causal [1,6,8] h2", (be, x) -> be.attention(x[0], x[1], x[2], 2, true), random(r, 1, 6, 8), random(r, 1, 6, 8), random(r, 1, 6, 8)));
        ok(check("attention 70 queries, 9 keys", (be, x) -> be.attention(x[0], x[1], x[2], 1, false), uniform(r, -2, 2, 1, 70, 4), uniform(r, -2, 2, 1, 9, 4), random(r, 1, 9, 3)));
        ok(check("attention [1,9,32]x[1,40,*] h2 (dim 16)", (be, x) -> be.attention(x[0], x[1], x[2], 2, false), random(r, 1, 9, 32), random(r, 1, 40, 32), random(r, 1, 40, 32)));
        ok(check("attention causal 67 tokens", (be, x) -> be.attention(x[0], x[1], x[2], 1, true), uniform(r, -2, 2, 1, 67, 3), uniform(r, -2, 2, 1, 67, 3), random(r, 1, 67, 2)));
        // q, k, v as chunks of one projection (TLD's qkv): their gradients meet in one array
        ok(check("attention on chunks of qkv", (be, x) -> { Tensor[] c = x[0].chunk(3, 2); return be.attention(c[0], c[1], c[2], 2, false); }, random(r, 2, 4, 12)));
    }

    @Test
    void norms() {
        ok(check("groupNorm [2,6,3,5] g3", (be, x) -> be.groupNorm(x[0], 3, x[1], x[2], 1e-5f, false), random(r, 2, 6, 3, 5), random(r, 6), random(r, 6)));
        ok(check("groupNorm+silu [2,4,5,3] g2", (be, x) -> be.groupNorm(x[0], 2, x[1], x[2], 1e-6f, true), random(r, 2, 4, 5, 3), random(r, 4), random(r, 4)));
        ok(check("groupNorm no affine [1,6,7] g6", (be, x) -> be.groupNorm(x[0], 6, null, null, 1e-5f, false), random(r, 1, 6, 7)));
        ok(check("layerNorm [3,4,7]", (be, x) -> be.layerNorm(x[0], x[1], x[2], 1e-5f), random(r, 3, 4, 7), random(r, 7), random(r, 7)));
        ok(check("layerNorm no affine [5,9]", (be, x) -> be.layerNorm(x[0], null, null, 1e-6f), random(r, 5, 9)));
        ok(check("softmax [3,9]", (be, x) -> be.softmax(x[0]), uniform(r, -3, 3, 3, 9)));
    }

    @Test
    void activations() {
        ok(check("silu [3,17]", (be, x) -> be.silu(x[0]), uniform(r, -4, 4, 3, 17)));
        ok(check("gelu [3,17]", (be, x) -> be.gelu(x[0]), uniform(r, -4, 4, 3, 17)));
        ok(check("geluTanh [3,17]", (be, x) -> be.geluTanh(x[0]), uniform(r, -4, 4, 3, 17)));
        ok(check("quickGelu [3,17]", (be, x) -> be.quickGelu(x[0]), uniform(r, -4, 4, 3, 17)));
        ok(check("GEGLU (hidden * gelu(gate))", (be, x) -> be.mul(x[0], be.gelu(x[1])), random(r, 2, 5, 6), uniform(r, -3, 3, 2, 5, 6)));
        ok(check("exp [4,5]", (be, x) -> be.exp(x[0]), random(r, 4, 5)));
        ok(check("sin, cos [4,5]", (be, x) -> be.add(be.sin(x[0]), be.cos(x[0])), uniform(r, -3, 3, 4, 5)));
        ok(check("clamp [-0.5, 0.5] [4,9]", (be, x) -> be.clamp(x[0], -0.5f, 0.5f), random(r, 4, 9)));
    }

    @Test
    void broadcastingArithmetic() {
        ok(check("add [2,3,4,5]+[3,1,5]", (be, x) -> be.add(x[0], x[1]), random(r, 2, 3, 4, 5), random(r, 3, 1, 5)));
        ok(check("sub [3,1,5]-[2,3,4,5]", (be, x) -> be.sub(x[1], x[0]), random(r, 2, 3, 4, 5), random(r, 3, 1, 5)));
        ok(check("mul [2,3,4,1]*[4,6]", (be, x) -> be.mul(x[0], x[1]), random(r, 2, 3, 4, 1), random(r, 4, 6)));
        ok(check("mul by [1] scalar, scale", (be, x) -> be.scale(be.mul(x[0], x[1]), -1.5f), random(r, 3, 4), random(r, 1)));
        ok(check("add [B,C,H,W]+[B,C,1,1] (time emb)", (be, x) -> be.add(x[0], x[1].reshape(2, 3, 1, 1)), random(r, 2, 3, 4, 4), random(r, 2, 3)));
    }

    @Test
    void layoutAndViews() {
        ok(check("concat dim 1", (be, x) -> be.concat(1, x[0], x[1]), random(r, 2, 3, 4), random(r, 2, 5, 4)));
        ok(check("concat dim -1 of a view", (be, x) -> be.concat(-1, x[0].transpose(1, 2), x[1]), random(r, 2, 3, 4), random(r, 2, 4, 2)));
        ok(check("chunk, mul, permute, contiguous", (be, x) -> {
            Tensor[] c = x[0].chunk(2, 1);
            return be.contiguous(be.mul(c[0], c[1]).permute(0, 2, 1)).reshape(2, -1);
        }, random(r, 2, 6, 5)));
        ok(check("narrow rows of a weight (FeedForward)", (be, x) -> be.mul(be.linear(x[1], x[0].narrow(0, 0, 3), null), be.linear(x[1], x[0].narrow(0, 3, 3), null)),
                random(r, 6, 4), random(r, 5, 4)));
        ok(check("upsampleNearest2x [2,3,4,5]", (be, x) -> be.upsampleNearest2x(x[0]), random(r, 2, 3, 4, 5)));
        Tensor ids = Tensor.ofLongs(new long[]{3, 0, 3, 6, 1, 3}, 2, 3);
        ok(check("embedding [7,5] ids [2,3] (repeats)", (be, x) -> be.embedding(x[0], ids), random(r, 7, 5)));
        ok(check("timestepEmbedding dim 10", (be, x) -> be.timestepEmbedding(x[0], 10, true, 0f, 1f, 10000f), uniform(r, 0, 3, 3)));
        ok(check("timestepEmbedding sin first, shift 1", (be, x) -> be.timestepEmbedding(x[0], 8, false, 1f, 2f, 100f), uniform(r, 0, 3, 2)));
    }

    @Test
    void losses() {
        Tensor target = random(new SplittableRandom(5), 3, 7);
        ok(check("mse", (be, x) -> be instanceof Tape t ? Losses.mse(t, x[0], target) : mse64(be, x[0], target), random(r, 3, 7)));
        ok(check("l1", (be, x) -> be instanceof Tape t ? Losses.l1(t, x[0], target) : l164(x[0], target), random(r, 3, 7)));
    }

    /** The losses' definitions in double, for the finite differences. */
    static Tensor mse64(Backend be, Tensor p, Tensor t) {
        double[] d = be.sub(p, t).toDoubleArray();
        double s = 0;
        for (double v : d) s += v * v;
        return Float64Backend.f64(new double[]{s / d.length});
    }

    static Tensor l164(Tensor p, Tensor t) {
        double[] a = p.toDoubleArray(), b = t.toDoubleArray();
        double s = 0;
        for (int i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
        return Float64Backend.f64(new double[]{s / a.length});
    }
}
