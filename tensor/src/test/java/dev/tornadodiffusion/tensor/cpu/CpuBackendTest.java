package dev.tornadodiffusion.tensor.cpu;

import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static dev.tornadodiffusion.tensor.cpu.Fixtures.assertClose;
import static dev.tornadodiffusion.tensor.cpu.Fixtures.rand;
import static dev.tornadodiffusion.tensor.cpu.Fixtures.uniform;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Every op of {@link CpuBackend} against {@link ScalarReference} on odd shapes, views and weight dtypes. */
class CpuBackendTest {
    private final CpuBackend cpu = new CpuBackend();
    private final ScalarReference ref = new ScalarReference();
    private final Random r = new Random(42);

    private static final int[] ODD = {1, 3, 7, 17, 33, 127};

    /** Float sums of k products of values in [-1, 1] against double sums. */
    private static double gemmTol(int k) { return 1e-6 * (8 + k); }

    @Test
    void matmulOnOddSizes() {
        for (int m : ODD)
            for (int k : ODD)
                for (int n : ODD) {
                    if (m * k * n > 200_000 || r.nextInt(3) != 0 && m * k * n > 27) continue;
                    Tensor a = rand(r, m, k), b = rand(r, k, n);
                    assertClose("matmul " + m + "x" + k + "x" + n, ref.matmul(a, b), cpu.matmul(a, b), 1e-5, gemmTol(k));
                }
    }

    @Test
    void matmulOnTransposedAndStridedViews() {
        Tensor a = rand(r, 45, 19).transpose(0, 1);                 // [19, 45], column-major
        Tensor b = rand(r, 60, 50).narrow(1, 3, 33).narrow(0, 7, 45); // [45, 33], row stride 50
        assertClose("transposed @ strided", ref.matmul(a, b), cpu.matmul(a, b), 1e-5, gemmTol(45));
        Tensor c = rand(r, 70, 45).transpose(0, 1);                 // [45, 70] with lanes strided
        assertClose("strided @ transposed", ref.matmul(b.transpose(0, 1), c), cpu.matmul(b.transpose(0, 1), c), 1e-5, gemmTol(45));
    }

    @Test
    void batchedMatmulBroadcasts() {
        Tensor a = rand(r, 2, 1, 5, 13), b = rand(r, 3, 13, 9);
        assertClose("[2,1,5,13] @ [3,13,9]", ref.matmul(a, b), cpu.matmul(a, b), 1e-5, gemmTol(13));
        Tensor q = rand(r, 2, 4, 31, 8), k = rand(r, 2, 4, 29, 8).transpose(-1, -2);
        assertClose("q @ k^T", ref.matmul(q, k), cpu.matmul(q, k), 1e-5, gemmTol(8));
    }

    @Test
    void gemmCrossesEveryBlockBoundary() {
        // Depth over several KC blocks; with a deep K the packing budget splits rows and columns into blocks too.
        int deep = Gemm.PACKED / 40;
        int[][] shapes = {{13, 3 * Gemm.KC + 5, 37}, {2 * Gemm.MR + 1, 2 * Gemm.KC, 3 * Gemm.NR + 1}, {100, deep, 1}, {2, deep, 2 * Gemm.NR + 5}};
        for (int[] s : shapes) {
            Tensor a = rand(r, s[0], s[1]), b = rand(r, s[1], s[2]), expected = ref.matmul(a, b);
            assertClose("gemm " + Arrays.toString(s), expected, cpu.matmul(a, b), 1e-5, gemmTol(s[1]));
            Tensor at = a.transpose(0, 1).contiguous().transpose(0, 1);
            assertClose("gemm, packed A " + Arrays.toString(s), expected, cpu.matmul(at, b), 1e-5, gemmTol(s[1]));
        }
    }

    @Test
    void gemmAccumulatesIntoAnOffsetWindow() {
        int m = 7, k = 300, n = 35, ldc = 50, off = 3;
        Tensor a = rand(r, m, k), b = rand(r, k, n);
        float[] c = new float[off + m * ldc];
        Arrays.fill(c, 0.5f);
        Gemm.gemm(a, b, c, off, ldc, true);
        Tensor product = ref.matmul(a, b);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < ldc; j++) {
                float expected = j < n ? 0.5f + product.get(i, j) : 0.5f;
                assertEquals(expected, c[off + i * ldc + j], gemmTol(k), "C[" + i + "," + j + "]");
            }
        assertEquals(0.5f, c[0]);
        Gemm.gemm(a, b, c, off, ldc, false);
        assertEquals(product.get(m - 1, n - 1), c[off + (m - 1) * ldc + n - 1], gemmTol(k));
    }

    @Test
    void linearWithHalfPrecisionWeights() {
        for (DType dt : new DType[]{DType.F32, DType.F16, DType.BF16}) {
            for (int[] s : new int[][]{{1, 1, 1}, {3, 17, 7}, {77, 33, 127}, {130, 64, 40}}) {
                int rows = s[0], in = s[1], out = s[2];
                Tensor x = rand(r, 1, rows, in), w = rand(r, out, in).to(dt);
                Tensor bias = s[2] % 2 == 1 ? rand(r, out) : null;
                assertClose("linear " + dt + Arrays.toString(s), ref.linear(x, w, bias), cpu.linear(x, w, bias), 1e-5, gemmTol(in));
            }
        }
    }

    @Test
    void linearOnAStridedInput() {
        Tensor qkv = rand(r, 2, 19, 3 * 24);
        Tensor x = qkv.narrow(2, 24, 24), w = rand(r, 40, 24).to(DType.F16).transpose(0, 1).contiguous().transpose(0, 1);
        assertClose("linear on a chunk", ref.linear(x, w, null), cpu.linear(x, w, null), 1e-5, gemmTol(24));
    }

    @Test
    void conv2dOnOddShapes() {
        // {batch, in, out, h, w, kh, kw, stride, padding, groups}
        int[][] cases = {
                {1, 3, 5, 7, 9, 3, 3, 1, 1, 1}, {2, 4, 6, 8, 8, 3, 3, 2, 1, 1}, {1, 2, 3, 5, 5, 1, 1, 1, 0, 1},
                {3, 6, 4, 9, 7, 1, 1, 2, 0, 2}, {1, 4, 8, 6, 11, 5, 5, 1, 2, 2}, {2, 3, 7, 6, 6, 1, 3, 1, 1, 1},
                {1, 17, 1, 3, 3, 3, 3, 1, 1, 1}, {2, 5, 5, 7, 7, 3, 3, 1, 1, 5}, {1, 6, 6, 9, 8, 3, 3, 2, 1, 6},
                {2, 3, 6, 5, 5, 3, 3, 1, 1, 3}, {1, 4, 4, 4, 4, 4, 4, 4, 0, 1}, {1, 2, 3, 3, 3, 3, 3, 1, 0, 1},
                {2, 3, 8, 33, 33, 3, 3, 1, 1, 1}, {1, 8, 13, 34, 32, 1, 1, 1, 0, 1}, {2, 4, 5, 3, 3, 1, 1, 1, 0, 1},
        };
        for (int[] c : cases) {
            Tensor x = rand(r, c[0], c[1], c[3], c[4]), w = rand(r, c[2], c[1] / c[9], c[5], c[6]);
            Tensor bias = c[2] % 2 == 0 ? rand(r, c[2]) : null;
            assertClose("conv2d " + Arrays.toString(c), ref.conv2d(x, w, bias, c[7], c[8], c[9]), cpu.conv2d(x, w, bias, c[7], c[8], c[9]),
                    1e-5, gemmTol(c[1] * c[5] * c[6]));
        }
    }

    @Test
    void conv2dWithHalfWeightsAndAStridedInput() {
        Tensor x = rand(r, 2, 10, 6, 7).narrow(1, 2, 5);
        for (DType dt : new DType[]{DType.F16, DType.BF16}) {
            Tensor w = rand(r, 9, 5, 3, 3).to(dt), bias = rand(r, 9).to(dt);
            assertClose("conv2d " + dt, ref.conv2d(x, w, bias, 1, 1, 1), cpu.conv2d(x, w, bias, 1, 1, 1), 1e-5, gemmTol(45));
            Tensor dw = rand(r, 5, 1, 3, 3).to(dt);
            assertClose("depthwise " + dt, ref.conv2d(x, dw, null, 1, 1, 5), cpu.conv2d(x, dw, null, 1, 1, 5), 1e-5, gemmTol(9));
        }
    }

    @Test
    void weightsInMappedMemoryArePackedRowByRow() {
        // Off-heap F32/F16 weights (as memory-mapped files give them): A panels packed lane by lane, with a partial
        // last panel (OC % 6 != 0), several depth blocks (K > 256) and, for the 4x4 map, all images in one GEMM.
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofShared()) {
            for (DType dt : new DType[]{DType.F32, DType.F16}) {
                Tensor heapW = rand(r, 23, 64, 3, 3).to(dt);
                java.lang.foreign.MemorySegment seg = arena.allocate(heapW.segment().byteSize(), 64);
                seg.copyFrom(heapW.segment());
                Tensor w = Tensor.wrap(seg, dt, 23, 64, 3, 3), x = rand(r, 2, 64, 4, 4), big = rand(r, 1, 64, 33, 33);
                assertClose("conv2d mapped " + dt, ref.conv2d(x, heapW, null, 1, 1, 1), cpu.conv2d(x, w, null, 1, 1, 1), 1e-5, gemmTol(576));
                assertClose("conv2d mapped " + dt + " 33x33", ref.conv2d(big, heapW, null, 1, 1, 1), cpu.conv2d(big, w, null, 1, 1, 1), 1e-5, gemmTol(576));
                Tensor lw = w.reshape(23, 576), rows = rand(r, 1, 5, 576);
                assertClose("linear mapped " + dt, ref.linear(rows, lw, null), cpu.linear(rows, lw, null), 1e-5, gemmTol(576));
                assertClose("matmul mapped " + dt, ref.matmul(lw, rows.reshape(5, 576).transpose(0, 1)),
                        cpu.matmul(lw, rows.reshape(5, 576).transpose(0, 1)), 1e-5, gemmTol(576));
            }
        }
    }

    @Test
    void conv2dRejectsMismatchedShapes() {
        Tensor x = rand(r, 1, 4, 5, 5);
        assertThrows(IllegalArgumentException.class, () -> cpu.conv2d(x, rand(r, 2, 3, 3, 3), null, 1, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> cpu.conv2d(x, rand(r, 2, 4, 7, 7), null, 1, 0, 1));
    }

    @Test
    void attentionAgainstPlainSoftmax() {
        // {batch, nq, nk, heads, dq, dv, causal}
        int[][] cases = {
                {1, 1, 1, 1, 1, 1, 0}, {2, 7, 7, 3, 5, 5, 1}, {1, 17, 33, 2, 40, 40, 0}, {2, 33, 17, 1, 17, 9, 0},
                {1, 100, 100, 2, 8, 8, 1}, {1, 5, 300, 1, 16, 16, 0}, {1, 300, 290, 1, 3, 7, 1}, {2, 13, 77, 4, 64, 64, 0},
                {1, 40, 20, 2, 6, 6, 1},
        };
        for (int[] c : cases) {
            Tensor q = rand(r, c[0], c[1], c[3] * c[4]), k = rand(r, c[0], c[2], c[3] * c[4]), v = rand(r, c[0], c[2], c[3] * c[5]);
            boolean causal = c[6] == 1;
            assertClose("attention " + Arrays.toString(c), ref.attention(q, k, v, c[3], causal), cpu.attention(q, k, v, c[3], causal), 1e-4, 1e-5);
        }
    }

    @Test
    void attentionWithLargeScoresRescalesItsRunningSums() {
        // Scores up to ~300: a running max that jumps between key blocks, and exp that would overflow without it.
        Tensor q = uniform(r, -5, 5, 1, 40, 2 * 16), k = uniform(r, -5, 5, 1, 500, 2 * 16), v = rand(r, 1, 500, 2 * 16);
        for (boolean causal : new boolean[]{false, true})
            assertClose("attention, large scores, causal " + causal, ref.attention(q, k, v, 2, causal), cpu.attention(q, k, v, 2, causal), 1e-4, 1e-5);
    }

    @Test
    void attentionOnChunksOfAFusedProjection() {
        Tensor qkv = uniform(r, -3, 3, 2, 50, 3 * 2 * 12);
        Tensor[] p = qkv.chunk(3, 2);
        assertClose("attention on views", ref.attention(p[0], p[1], p[2], 2, false), cpu.attention(p[0], p[1], p[2], 2, false), 1e-4, 1e-5);
    }

    @Test
    void groupNormWithAndWithoutSiluAndAffine() {
        for (int[] s : new int[][]{{2, 6, 5, 7}, {1, 32, 3, 3}, {3, 4, 17}, {1, 64, 33, 1}}) {
            Tensor x = uniform(r, 999, 1001, s), w = rand(r, s[1]), b = rand(r, s[1]);
            int groups = s[1] % 32 == 0 ? 32 : 2;
            for (boolean silu : new boolean[]{false, true}) {
                assertClose("groupNorm " + Arrays.toString(s) + " silu " + silu, ref.groupNorm(x, groups, w, b, 1e-5f, silu),
                        cpu.groupNorm(x, groups, w, b, 1e-5f, silu), 1e-5, 1e-5);
                assertClose("groupNorm without affine", ref.groupNorm(x, groups, null, null, 1e-6f, silu),
                        cpu.groupNorm(x, groups, null, null, 1e-6f, silu), 1e-5, 1e-5);
            }
        }
    }

    @Test
    void layerNormAndSoftmaxOnOddRows() {
        for (int d : new int[]{1, 3, 17, 33, 127, 320}) {
            Tensor x = uniform(r, -4, 4, 3, 5, d), w = rand(r, d), b = rand(r, d);
            assertClose("layerNorm " + d, ref.layerNorm(x, w, b, 1e-5f), cpu.layerNorm(x, w, b, 1e-5f), 1e-5, 1e-5);
            assertClose("layerNorm no affine " + d, ref.layerNorm(x, null, null, 1e-5f), cpu.layerNorm(x, null, null, 1e-5f), 1e-5, 1e-5);
            assertClose("layerNorm weight only " + d, ref.layerNorm(x, w, null, 1e-5f), cpu.layerNorm(x, w, null, 1e-5f), 1e-5, 1e-5);
            assertClose("softmax " + d, ref.softmax(x), cpu.softmax(x), 1e-5, 1e-7);
        }
        Tensor view = rand(r, 9, 40).transpose(0, 1);
        assertClose("softmax of a view", ref.softmax(view), cpu.softmax(view), 1e-5, 1e-7);
    }

    @Test
    void activationsOverTheirWholeRange() {
        float[] v = new float[1000];
        for (int i = 0; i < v.length; i++) v[i] = -12f + 24f * i / (v.length - 1);
        v[0] = 0f;
        v[1] = -0.3f;
        Tensor x = Tensor.of(v, 10, 100), odd = uniform(r, -6, 6, 3, 37);
        for (Tensor t : new Tensor[]{x, odd, x.transpose(0, 1)}) {
            assertClose("silu", ref.silu(t), cpu.silu(t), 1e-6, 1e-7);
            assertClose("gelu", ref.gelu(t), cpu.gelu(t), 1e-6, 1e-7);
            assertClose("geluTanh", ref.geluTanh(t), cpu.geluTanh(t), 1e-6, 1e-7);
            assertClose("quickGelu", ref.quickGelu(t), cpu.quickGelu(t), 1e-6, 1e-7);
            assertClose("scale", ref.scale(t, -0.37f), cpu.scale(t, -0.37f), 0, 0);
        }
    }

    @Test
    void floatGeluAgreesWithTheDoubleReferenceOnADenseGrid() {
        // The float-lane erfc loses accuracy where it is steepest: -6..6 in steps of about 1e-4.
        float[] v = new float[120_000];
        for (int i = 0; i < v.length; i++) v[i] = -6f + 12f * i / (v.length - 1);
        Tensor x = Tensor.of(v, v.length);
        assertClose("gelu", ref.gelu(x), cpu.gelu(x), 1e-6, 1e-7);
        assertClose("geluTanh", ref.geluTanh(x), cpu.geluTanh(x), 1e-6, 1e-7);
    }

    @Test
    void binaryOpsBroadcast() {
        int[][][] pairs = {
                {{2, 3, 4, 5}, {2, 3, 4, 5}}, {{2, 3, 4, 5}, {3, 1, 1}}, {{2, 3, 4, 5}, {2, 3, 1, 1}}, {{3, 1}, {1, 17}},
                {{7}, {1}}, {{}, {4, 3}}, {{2, 1, 33}, {5, 1}}, {{1, 17}, {3, 17}}, {{4, 5}, {5}},
        };
        for (int[][] p : pairs) {
            Tensor a = rand(r, p[0]), b = rand(r, p[1]);
            String what = Arrays.toString(p[0]) + " op " + Arrays.toString(p[1]);
            assertClose("add " + what, ref.add(a, b), cpu.add(a, b), 0, 0);
            assertClose("sub " + what, ref.sub(b, a), cpu.sub(b, a), 0, 0);
            assertClose("mul " + what, ref.mul(a, b), cpu.mul(a, b), 0, 0);
        }
        Tensor a = rand(r, 6, 5).transpose(0, 1), b = rand(r, 5, 6);
        assertClose("add of a transposed view", ref.add(a, b), cpu.add(a, b), 0, 0);
        assertThrows(IllegalArgumentException.class, () -> cpu.add(rand(r, 2, 3), rand(r, 3, 2)));
    }

    @Test
    void layoutOps() {
        Tensor x = rand(r, 2, 3, 5, 7);
        assertClose("pad2d", ref.pad2d(x, 1, 2, 0, 3), cpu.pad2d(x, 1, 2, 0, 3), 0, 0);
        assertClose("upsample", ref.upsampleNearest2x(x), cpu.upsampleNearest2x(x), 0, 0);
        Tensor y = rand(r, 2, 4, 5, 7), z = rand(r, 2, 1, 5, 7);
        assertClose("concat dim 1", ref.concat(1, x, y, z), cpu.concat(1, x, y, z), 0, 0);
        assertClose("concat dim -1", ref.concat(-1, x, x.narrow(3, 2, 3)), cpu.concat(-1, x, x.narrow(3, 2, 3)), 0, 0);
        assertClose("concat dim 0", ref.concat(0, x, x), cpu.concat(0, x, x), 0, 0);
    }

    @Test
    void timestepEmbeddingBothOrders() {
        Tensor t = Tensor.of(new float[]{0f, 1f, 999f, 500.5f}, 4);
        for (int dim : new int[]{320, 7}) {
            assertClose("timestep " + dim, ref.timestepEmbedding(t, dim, true, 0f, 1f, 10000f), cpu.timestepEmbedding(t, dim, true, 0f, 1f, 10000f), 0, 0);
            assertClose("timestep shifted " + dim, ref.timestepEmbedding(t, dim, false, 1f, 2f, 10000f), cpu.timestepEmbedding(t, dim, false, 1f, 2f, 10000f), 0, 0);
        }
    }
}
