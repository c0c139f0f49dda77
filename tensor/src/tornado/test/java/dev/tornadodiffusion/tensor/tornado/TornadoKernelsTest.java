package dev.tornadodiffusion.tensor.tornado;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every TornadoVM kernel against the CPU backend, one operation at a time (eager mode), on small shapes with
 * odd sizes and strided views. Runs only in the Maven profile "tornado", with bailouts fatal: a kernel that
 * TornadoVM cannot compile fails here instead of running as plain Java. Each case is one compiled task
 * (about half a second on a CPU OpenCL device), so cases are chosen to cover kernel paths, not sizes.
 */
class TornadoKernelsTest {
    static Backend cpu, tornado;
    final Random rnd = new Random(7);

    @BeforeAll
    static void backends() {
        cpu = Backends.cpu();
        tornado = Backends.get("tornado");
    }

    Tensor randn(int... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) rnd.nextGaussian();
        return Tensor.of(v, shape);
    }

    static void close(Tensor expected, Tensor actual, double tol) {
        assertArrayEquals(expected.shape(), actual.shape(), "shape");
        float[] e = expected.toFloatArray(), a = actual.toFloatArray();
        double scale = 0;
        for (float v : e) scale = Math.max(scale, Math.abs(v));
        double worst = 0;
        int at = -1;
        for (int i = 0; i < e.length; i++) {
            double d = Math.abs(e[i] - a[i]);
            if (!(d <= worst)) { worst = d; at = i; }
        }
        assertTrue(worst <= tol * Math.max(1, scale), "max |diff| " + worst + " at " + at + " (expected " + (at < 0 ? 0 : e[at]) + ", got " + (at < 0 ? 0 : a[at]) + "), tolerance " + tol + " x " + Math.max(1, scale));
    }

    @Test
    void linearF32WithBiasOnAStridedInput() {
        Tensor x = randn(37, 50).narrow(1, 3, 45), w = randn(29, 45), b = randn(29);
        close(cpu.linear(x, w, b), tornado.linear(x, w, b), 1e-5);
    }

    @Test
    void linearF16AndBf16WeightsAreWidenedInTheKernel() {
        Tensor x = randn(2, 13, 40), w = randn(33, 40), b = randn(33);
        for (DType dt : new DType[]{DType.F16, DType.BF16}) {
            Tensor w16 = w.to(dt);
            close(cpu.linear(x, w16, b), tornado.linear(x, w16, b), 1e-5);
        }
    }

    @Test
    void batchedMatmulBroadcastsAndReadsTransposedViews() {
        Tensor a = randn(2, 3, 17, 9), b = randn(3, 13, 9).transpose(1, 2);
        close(cpu.matmul(a, b), tornado.matmul(a, b), 1e-5);
    }

    @Test
    void conv3x3PaddedAndStrided() {
        Tensor x = randn(2, 5, 7, 9), w = randn(6, 5, 3, 3), b = randn(6);
        close(cpu.conv2d(x, w, b, 1, 1, 1), tornado.conv2d(x, w, b, 1, 1, 1), 1e-5);
        close(cpu.conv2d(x, w, null, 2, 1, 1), tornado.conv2d(x, w, null, 2, 1, 1), 1e-5);
    }

    @Test
    void conv1x1GroupedAndF16() {
        Tensor x = randn(1, 6, 5, 11), w = randn(4, 3, 1, 1), b = randn(4);
        close(cpu.conv2d(x, w, b, 1, 0, 2), tornado.conv2d(x, w, b, 1, 0, 2), 1e-5);
        Tensor w16 = randn(7, 6, 3, 3).to(DType.F16);
        close(cpu.conv2d(x, w16, null, 1, 1, 1), tornado.conv2d(x, w16, null, 1, 1, 1), 1e-5);
    }

    @Test
    void depthwiseConv() {
        Tensor x = randn(2, 4, 6, 7), w = randn(8, 1, 3, 3), b = randn(8);
        close(cpu.conv2d(x, w, b, 1, 1, 4), tornado.conv2d(x, w, b, 1, 1, 4), 1e-5);
    }

    @Test
    void attentionCrossAndCausal() {
        Tensor q = randn(2, 19, 24), k = randn(2, 23, 24), v = randn(2, 23, 30);
        close(cpu.attention(q, k, v, 3, false), tornado.attention(q, k, v, 3, false), 1e-5);
        Tensor qkv = randn(1, 21, 48);
        Tensor[] p = qkv.chunk(3, -1);
        close(cpu.attention(p[0], p[1], p[2], 2, true), tornado.attention(p[0], p[1], p[2], 2, true), 1e-5);
    }

    @Test
    void groupNormPlainAndWithSilu() {
        Tensor x = randn(2, 12, 5, 7), g = randn(12), b = randn(12);
        close(cpu.groupNorm(x, 4, g, b, 1e-5f, false), tornado.groupNorm(x, 4, g, b, 1e-5f, false), 1e-5);
        close(cpu.groupNorm(x, 3, g, b, 1e-6f, true), tornado.groupNorm(x, 3, g, b, 1e-6f, true), 1e-5);
    }

    @Test
    void groupNormOfFewGroupsIsSplitOverSeveralWorkGroups() {
        // 1 image x 2 groups is below reduce.workgroups: each group's statistics come from several parts, merged
        Tensor x = cpu.add(randn(1, 4, 33, 35), Tensor.of(new float[]{3f}, 1)), g = randn(4), b = randn(4);
        close(cpu.groupNorm(x, 2, g, b, 1e-5f, true), tornado.groupNorm(x, 2, g, b, 1e-5f, true), 1e-5);
        close(cpu.groupNorm(x, 1, null, null, 1e-5f, false), tornado.groupNorm(x, 1, null, null, 1e-5f, false), 1e-5);
    }

    @Test
    void layerNormAndSoftmaxOverRows() {
        Tensor x = randn(3, 11, 37), g = randn(37), b = randn(37);
        close(cpu.layerNorm(x, g, b, 1e-5f), tornado.layerNorm(x, g, b, 1e-5f), 1e-5);
        Tensor xt = randn(5, 300).transpose(0, 1);
        close(cpu.layerNorm(xt, null, null, 1e-5f), tornado.layerNorm(xt, null, null, 1e-5f), 1e-5);
        Tensor s = randn(4, 9, 131).narrow(2, 1, 129);
        close(cpu.softmax(s), tornado.softmax(s), 1e-6);
    }

    @Test
    void activations() {
        Tensor x = randn(3, 333).narrow(1, 2, 301);
        close(cpu.silu(x), tornado.silu(x), 1e-6);
        close(cpu.gelu(x), tornado.gelu(x), 1e-6);
        close(cpu.geluTanh(x), tornado.geluTanh(x), 1e-6);
        close(cpu.quickGelu(x), tornado.quickGelu(x), 1e-6);
        close(cpu.exp(x), tornado.exp(x), 1e-6);
        close(cpu.sin(x), tornado.sin(x), 1e-6);
        close(cpu.cos(x), tornado.cos(x), 1e-6);
        close(cpu.clamp(x, -0.5f, 0.75f), tornado.clamp(x, -0.5f, 0.75f), 0);
        // float kernels: sin/cos reduce large arguments themselves (embeddings reach thousands), erf's tails
        Tensor wide = cpu.scale(randn(2, 500), 2000f), tails = cpu.scale(randn(401), 3f);
        close(cpu.sin(wide), tornado.sin(wide), 1e-6);
        close(cpu.cos(wide), tornado.cos(wide), 1e-6);
        close(cpu.gelu(tails), tornado.gelu(tails), 1e-6);
    }

    @Test
    void broadcastingArithmeticAndScale() {
        Tensor a = randn(2, 3, 5, 7), row = randn(7), col = randn(2, 3, 1, 1), t = randn(2, 7, 5, 3).permute(0, 3, 2, 1);
        close(cpu.add(a, row), tornado.add(a, row), 1e-6);
        close(cpu.sub(col, a), tornado.sub(col, a), 1e-6);
        close(cpu.mul(a, t), tornado.mul(a, t), 1e-6);
        close(cpu.scale(a, 0.37f), tornado.scale(a, 0.37f), 1e-6);
    }

    @Test
    void layoutOps() {
        Tensor a = randn(2, 3, 5, 7), b = randn(2, 4, 5, 7);
        close(cpu.concat(1, a, b), tornado.concat(1, a, b), 0);
        close(cpu.pad2d(a, 1, 0, 0, 1), tornado.pad2d(a, 1, 0, 0, 1), 0);
        close(cpu.upsampleNearest2x(a.transpose(2, 3)), tornado.upsampleNearest2x(a.transpose(2, 3)), 0);
    }

    @Test
    void embeddingGathersRowsOfF16AndF32Tables() {
        Tensor ids = Tensor.ofLongs(new long[]{5, 0, 7, 5, 2, 9}, 2, 3);
        Tensor table = randn(10, 13);
        close(cpu.embedding(table.to(DType.F16), ids), tornado.embedding(table.to(DType.F16), ids), 0);
        close(cpu.embedding(table.transpose(0, 1).narrow(0, 0, 10), ids.narrow(1, 1, 2)), tornado.embedding(table.transpose(0, 1).narrow(0, 0, 10), ids.narrow(1, 1, 2)), 0);
    }

    @Test
    void timestepEmbeddingOfIntegerAndFractionalTimesteps() {
        Tensor t = Tensor.ofLongs(new long[]{999, 1, 500}, 3);
        close(cpu.timestepEmbedding(t, 32, true, 0, 1, 10000), tornado.timestepEmbedding(t, 32, true, 0, 1, 10000), 1e-6);
        Tensor f = Tensor.of(new float[]{946.42f, 37.25f}, 2);
        close(cpu.timestepEmbedding(f, 17, false, 1, 2, 10000), tornado.timestepEmbedding(f, 17, false, 1, 2, 10000), 1e-5);
    }

    @Test
    void eagerPlansAreReusedWithNewData() {
        TornadoBackend tb = (TornadoBackend) tornado;
        Tensor w = randn(8, 6);
        tornado.linear(randn(4, 6), w, null);
        int plans = tb.eagerPlans();
        Tensor x = randn(4, 6);
        close(cpu.linear(x, w, null), tornado.linear(x, w, null), 1e-5);
        assertEquals(plans, tb.eagerPlans());
    }
}
