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
     * Scaling commutes with the max (scale > 0), so the first pass only reads.
     */
    private static void softmaxStep(float[] st, int keys, float scale, int shift, float[] max, float[] sum, float[] ot) {
        boolean causal = shift != Integer.MIN_VALUE;
        FloatVector ninf = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY), zero = FloatVector.zero(S);
        FloatVector r0 = ninf, r1 = ninf;
        for (int j = 0; j < keys; j++) {
            FloatVector x0 = FloatVector.fromArray(S, st, j * NR), x1 = FloatVector.fromArray(S, st, j * NR + V);
            if (causal && j + shift > 0) {
                x0 = x0.blend(ninf, IOTA.compare(VectorOperators.LT, j + shift));
                x1 = x1.blend(ninf, IOTA_HI.compare(VectorOperators.LT, j + shift));
            }
            r0 = r0.max(x0);
            r1 = r1.max(x1);
        }
        FloatVector old0 = FloatVector.fromArray(S, max, 0), old1 = FloatVector.fromArray(S, max, V);
        FloatVector m0 = old0.max(r0.mul(scale)), m1 = old1.max(r1.mul(scale));
        FloatVector c0 = VectorMath.exp(old0.sub(m0)), c1 = VectorMath.exp(old1.sub(m1));
        FloatVector vs = FloatVector.broadcast(S, scale), n0 = m0.neg(), n1 = m1.neg(), s0 = zero, s1 = zero;
        for (int j = 0; j < keys; j++) {
            FloatVector e0 = VectorMath.exp(FloatVector.fromArray(S, st, j * NR).fma(vs, n0));
            FloatVector e1 = VectorMath.exp(FloatVector.fromArray(S, st, j * NR + V).fma(vs, n1));
            if (causal && j + shift > 0) {
                e0 = e0.blend(zero, IOTA.compare(VectorOperators.LT, j + shift));
                e1 = e1.blend(zero, IOTA_HI.compare(VectorOperators.LT, j + shift));
            }
            e0.intoArray(st, j * NR);
            e1.intoArray(st, j * NR + V);
            s0 = s0.add(e0);
            s1 = s1.add(e1);
        }
        m0.intoArray(max, 0);
        m1.intoArray(max, V);
        FloatVector.fromArray(S, sum, 0).fma(c0, s0).intoArray(sum, 0);
        FloatVector.fromArray(S, sum, V).fma(c1, s1).intoArray(sum, V);
        for (int d = 0; d < ot.length; d += NR) {
            FloatVector.fromArray(S, ot, d).mul(c0).intoArray(ot, d);
            FloatVector.fromArray(S, ot, d + V).mul(c1).intoArray(ot, d + V);
        }
    }

    private static float[] iota() {
        float[] a = new float[V];
        for (int i = 0; i < V; i++) a[i] = i;
        return a;
    }
}
