package dev.tornadodiffusion.tensor.cpu;

import dev.tornadodiffusion.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.util.Arrays;

import static dev.tornadodiffusion.tensor.cpu.Gemm.MR;
import static dev.tornadodiffusion.tensor.cpu.Gemm.NR;
import static dev.tornadodiffusion.tensor.cpu.Gemm.S;
import static dev.tornadodiffusion.tensor.cpu.Gemm.V;
import static dev.tornadodiffusion.tensor.cpu.Gemm.ceilDiv;
import static dev.tornadodiffusion.tensor.cpu.Gemm.roundUp;

/**
 * Fused multi-head attention, flash style, computed transposed so that queries are the vector lanes:
 * for a block of NR queries, the scores of one block of keys are {@code S^T = K · Q^T} (keys x queries,
 * by the GEMM micro-kernel), the online softmax runs down the keys with a running max and sum per
 * query lane, and {@code O^T += V^T · P^T} (the same kernel; head dims are its rows, so 40 wastes
 * little). Memory is O(tokens): K and V^T are packed once per head, scores exist for one block only.
 */
final class Attention {
    private Attention() {}

    /** Keys per block: whole micro-panels of the kernel's rows. */
    private static final int BK = 32 * MR;
    /** Lane index, for the causal mask: lanes 0..V-1 and V..2V-1. */
    private static final FloatVector IOTA = FloatVector.fromArray(S, iota(), 0), IOTA_HI = IOTA.add(V);

    static Tensor forward(Tensor q, Tensor k, Tensor v, int heads, boolean causal) {
        if (q.rank() != 3 || k.rank() != 3 || v.rank() != 3 || heads < 1)
            throw new IllegalArgumentException("attention needs [B, N, H*D] inputs: q" + Arrays.toString(q.shape()) + " k" + Arrays.toString(k.shape()) + " v" + Arrays.toString(v.shape()));
        int b = q.dim(0), nq = q.dim(1), nk = k.dim(1);
        int dq = q.dim(2) / heads, dv = v.dim(2) / heads;
        if (k.dim(0) != b || v.dim(0) != b || v.dim(1) != nk || k.dim(2) != q.dim(2) || q.dim(2) % heads != 0 || v.dim(2) % heads != 0)
            throw new IllegalArgumentException("attention shapes q" + Arrays.toString(q.shape()) + " k" + Arrays.toString(k.shape()) + " v" + Arrays.toString(v.shape()) + " heads " + heads);
        Tensor out = Tensor.zeros(b, nq, heads * dv);
        if (nq == 0 || nk == 0 || dv == 0) return out;
        float[] o = out.array();
        float scale = (float) (1.0 / Math.sqrt(dq));
        int kPanels = ceilDiv(nk, MR), vPanels = ceilDiv(dv, MR);
        int kSize = kPanels * MR * dq, vSize = vPanels * MR * nk;
        // Per (batch, head): K as A panels (rows = keys, depth = head dim), V^T as A panels (rows = head dim, depth = keys).
        float[] kp = new float[b * heads * kSize], vp = new float[b * heads * vSize];
        Parallel.forRange(b * heads, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int bi = r / heads, h = r % heads;
                Gemm.Operand kh = Gemm.Operand.rows(k.select(0, bi).narrow(1, h * dq, dq));
                Gemm.Operand vt = Gemm.Operand.rows(v.select(0, bi).narrow(1, h * dv, dv).transpose(0, 1));
                for (int p = 0; p < kPanels; p++) kh.pack(p * MR, Math.min(MR, nk - p * MR), 0, dq, kp, r * kSize + p * MR * dq, MR);
                for (int p = 0; p < vPanels; p++) vt.pack(p * MR, Math.min(MR, dv - p * MR), 0, nk, vp, r * vSize + p * MR * nk, MR);
            }
        });
        int qBlocks = ceilDiv(nq, NR);
        Parallel.forRange(b * heads * qBlocks, (t0, t1) -> {
            float[] qt = new float[dq * NR], st = new float[BK * NR], ot = new float[vPanels * MR * NR];
            float[] max = new float[NR], sum = new float[NR];
            for (int t = t0; t < t1; t++) {
                int qb = t % qBlocks, r = t / qBlocks, bi = r / heads, h = r % heads;
                int q0 = qb * NR, rows = Math.min(NR, nq - q0);
                Gemm.Operand.cols(q.select(0, bi).narrow(1, h * dq, dq).transpose(0, 1)).pack(q0, rows, 0, dq, qt, 0, NR);
                Arrays.fill(ot, 0f);
                Arrays.fill(max, Float.NEGATIVE_INFINITY);
                Arrays.fill(sum, 0f);
                int keyEnd = causal ? Math.min(nk, q0 + NR) : nk;
                for (int j0 = 0; j0 < keyEnd; j0 += BK) {
                    int keys = Math.min(BK, keyEnd - j0);
                    for (int p = 0; p < ceilDiv(keys, MR); p++)
                        Gemm.kernel(dq, kp, r * kSize + (j0 / MR + p) * MR * dq, MR, 1, qt, 0, st, p * MR * NR, NR, false);
                    softmaxStep(st, keys, scale, causal ? j0 - q0 : Integer.MIN_VALUE, max, sum, ot);
                    for (int p = 0; p < vPanels; p++)
                        Gemm.kernel(keys, vp, r * vSize + p * MR * nk + j0 * MR, MR, 1, st, 0, ot, p * MR * NR, NR, true);
                }
                for (int i = 0; i < rows; i++) {
                    float inv = 1f / sum[i];
                    int dst = (bi * nq + q0 + i) * heads * dv + h * dv;
                    for (int d = 0; d < dv; d++) o[dst + d] = ot[d * NR + i] * inv;
                }
            }
        });
        return out;
    }

    /**
     * Online softmax over a block of transposed scores {@code st[key][query]}: raises each query's
     * running max (kept scaled), replaces scores by {@code exp(score * scale - max)}, adds them to the
     * running sums and rescales the output accumulated so far. With a causal mask, key {@code j} is hidden
     * from query lane {@code i} when {@code j + shift > i} ({@code shift} = first key - first query).
     * Scaling commutes with the max (scale > 0), so the first pass only reads. The two vectors of query
     * lanes are independent and go one at a time through {@link #softmaxHalf}, so that C2 inlines exp: with
     * four copies of it in one method it passed its node budget, and exp's vectors were boxed on every call.
     */
    private static void softmaxStep(float[] st, int keys, float scale, int shift, float[] max, float[] sum, float[] ot) {
        softmaxHalf(st, keys, scale, shift, 0, IOTA, max, sum, ot);
        softmaxHalf(st, keys, scale, shift, V, IOTA_HI, max, sum, ot);
    }

    /** {@link #softmaxStep} for the query lanes {@code half..half+V-1}, whose lane indices are {@code iota}. */
    private static void softmaxHalf(float[] st, int keys, float scale, int shift, int half, FloatVector iota, float[] max, float[] sum, float[] ot) {
        boolean causal = shift != Integer.MIN_VALUE;
        FloatVector ninf = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY), zero = FloatVector.zero(S);
        FloatVector r = ninf;
        for (int j = 0; j < keys; j++) {
            FloatVector x = FloatVector.fromArray(S, st, j * NR + half);
            if (causal && j + shift > 0) x = x.blend(ninf, iota.compare(VectorOperators.LT, j + shift));
            r = r.max(x);
        }
        FloatVector old = FloatVector.fromArray(S, max, half), m = old.max(r.mul(scale));
        FloatVector vs = FloatVector.broadcast(S, scale), n = m.neg(), s = zero;
        for (int j = 0; j < keys; j++) {
            FloatVector e = VectorMath.exp(FloatVector.fromArray(S, st, j * NR + half).fma(vs, n));
            if (causal && j + shift > 0) e = e.blend(zero, iota.compare(VectorOperators.LT, j + shift));
            e.intoArray(st, j * NR + half);
            s = s.add(e);
        }
        FloatVector c = VectorMath.exp(old.sub(m));   // rescales what was summed under the old max
        m.intoArray(max, half);
        FloatVector.fromArray(S, sum, half).fma(c, s).intoArray(sum, half);
        for (int d = half; d < ot.length; d += NR) FloatVector.fromArray(S, ot, d).mul(c).intoArray(ot, d);
    }

    private static float[] iota() {
        float[] a = new float[V];
        for (int i = 0; i < V; i++) a[i] = i;
        return a;
    }
}
