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
 * Fused multi-head attention, flash style: a block of queries meets the keys block by block; scores
 * of one block ({@code Q·K^T}, by the GEMM micro-kernel) get an online softmax (running max and sum
 * per query) and are multiplied into the output accumulator ({@code P·V}, by the same kernel). Memory
 * is O(tokens): K and V are packed once per head, scores exist only for one block at a time.
 */
final class Attention {
    private Attention() {}

    /** Queries per task (whole micro-panels) and keys per block (whole key panels). */
    private static final int BQ = 16 * MR, BK = 8 * NR;

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
        int kPanels = ceilDiv(nk, NR), dvPad = roundUp(dv, NR), vPanels = dvPad / NR;
        int kSize = kPanels * NR * dq, vSize = dvPad * nk;
        // K^T as B panels (depth = head dim, lanes = keys) and V as B panels (depth = keys, lanes = head dim), per (batch, head).
        float[] kp = new float[b * heads * kSize], vp = new float[b * heads * vSize];
        Parallel.forRange(b * heads, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int bi = r / heads, h = r % heads;
                Gemm.Operand kt = Gemm.Operand.cols(k.select(0, bi).narrow(1, h * dq, dq).transpose(0, 1));
                Gemm.Operand vh = Gemm.Operand.cols(v.select(0, bi).narrow(1, h * dv, dv));
                for (int p = 0; p < kPanels; p++) kt.pack(p * NR, Math.min(NR, nk - p * NR), 0, dq, kp, r * kSize + p * NR * dq, NR);
                for (int p = 0; p < vPanels; p++) vh.pack(p * NR, Math.min(NR, dv - p * NR), 0, nk, vp, r * vSize + p * NR * nk, NR);
            }
        });
        int qBlocks = ceilDiv(nq, BQ);
        Parallel.forRange(b * heads * qBlocks, (t0, t1) -> {
            float[] qp = new float[BQ * dq], s = new float[BQ * BK], acc = new float[BQ * dvPad];
            float[] max = new float[BQ], sum = new float[BQ];
            for (int t = t0; t < t1; t++) {
                int qb = t % qBlocks, r = t / qBlocks, bi = r / heads, h = r % heads;
                int q0 = qb * BQ, rows = Math.min(BQ, nq - q0), panels = ceilDiv(rows, MR);
                Gemm.Operand qh = Gemm.Operand.rows(q.select(0, bi).narrow(1, h * dq, dq));
                for (int p = 0; p < panels; p++) qh.pack(q0 + p * MR, Math.min(MR, rows - p * MR), 0, dq, qp, p * MR * dq, MR);
                Arrays.fill(acc, 0f);
                Arrays.fill(max, Float.NEGATIVE_INFINITY);
                Arrays.fill(sum, 0f);
                int keyEnd = causal ? Math.min(nk, q0 + rows) : nk;
                for (int j0 = 0; j0 < keyEnd; j0 += BK) {
                    int keys = Math.min(BK, nk - j0), keyPanels = ceilDiv(keys, NR);
                    for (int jp = 0; jp < keyPanels; jp++)
                        for (int p = 0; p < panels; p++)
                            Gemm.kernel(dq, qp, p * MR * dq, MR, 1, kp, r * kSize + (j0 / NR + jp) * NR * dq, s, p * MR * BK + jp * NR, BK, false);
                    for (int i = 0; i < rows; i++) {
                        int valid = causal ? Math.min(keys, q0 + i - j0 + 1) : keys;
                        float corr = softmaxStep(s, i * BK, valid, keys, scale, max, sum, i);
                        if (corr != 1f) scaleRow(acc, i * dvPad, dvPad, corr);
                    }
                    for (int p = 0; p < panels; p++)
                        for (int c = 0; c < vPanels; c++)
                            Gemm.kernel(keys, s, p * MR * BK, 1, BK, vp, r * vSize + c * NR * nk + j0 * NR, acc, p * MR * dvPad + c * NR, dvPad, true);
                }
                for (int i = 0; i < rows; i++) {
                    float inv = 1f / sum[i];
                    int src = i * dvPad, dst = (bi * nq + q0 + i) * heads * dv + h * dv;
                    for (int d = 0; d < dv; d++) o[dst + d] = acc[src + d] * inv;
                }
            }
        });
        return out;
    }

    /**
     * Online softmax over one row of block scores {@code s[at..at+keys)}: scales the first {@code valid}
     * scores, raises the running max of row {@code i}, replaces scores by {@code exp(score - max)} (0 for
     * masked keys), adds them to the running sum and returns the factor that rescales earlier output.
     */
    private static float softmaxStep(float[] s, int at, int valid, int keys, float scale, float[] max, float[] sum, int i) {
        if (valid <= 0) {
            Arrays.fill(s, at, at + keys, 0f);
            return 1f;
        }
        int j = 0;
        FloatVector vmax = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        for (int end = valid - V; j <= end; j += V) {
            FloatVector x = FloatVector.fromArray(S, s, at + j).mul(scale);
            x.intoArray(s, at + j);
            vmax = vmax.max(x);
        }
        float m = vmax.reduceLanes(VectorOperators.MAX);
        for (; j < valid; j++) { s[at + j] *= scale; m = Math.max(m, s[at + j]); }
        float mNew = Math.max(max[i], m);
        float corr = (float) Math.exp(max[i] - mNew);
        FloatVector vm = FloatVector.broadcast(S, mNew), vsum = FloatVector.zero(S);
        j = 0;
        for (int end = valid - V; j <= end; j += V) {
            FloatVector e = FloatVector.fromArray(S, s, at + j).sub(vm).lanewise(VectorOperators.EXP);
            e.intoArray(s, at + j);
            vsum = vsum.add(e);
        }
        float total = vsum.reduceLanes(VectorOperators.ADD);
        for (; j < valid; j++) { float e = (float) Math.exp(s[at + j] - mNew); s[at + j] = e; total += e; }
        Arrays.fill(s, at + valid, at + keys, 0f);
        max[i] = mNew;
        sum[i] = sum[i] * corr + total;
        return corr;
    }

    private static void scaleRow(float[] a, int at, int len, float f) {
        for (int j = 0; j < len; j += V) FloatVector.fromArray(S, a, at + j).mul(f).intoArray(a, at + j);
    }
}
