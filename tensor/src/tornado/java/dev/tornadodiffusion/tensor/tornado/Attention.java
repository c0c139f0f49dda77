package dev.tornadodiffusion.tensor.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * Fused multi-head attention on the device, flash-attention style: each work-item owns one query row and keeps
 * an online softmax (running max, sum and weighted value sum, as cpu/Attention), while the work-group streams
 * tiles of keys and values through local memory. No [Nq, Nk] score matrix exists anywhere.
 */
final class Attention {
    private Attention() {}

    // geometry: q [B, NQ, H*D], k [B, NK, H*D], v [B, NK, H*DV], each with its own offset, batch and row stride
    static final int B = 0, NQ = 1, NK = 2, HEADS = 3, Q_OFF = 4, Q_BS = 5, Q_RS = 6, K_OFF = 7, K_BS = 8, K_RS = 9,
            V_OFF = 10, V_BS = 11, V_RS = 12, CAUSAL = 13, GEO = 14;

    /**
     * out dense [B, NQ, H*DV]. Launch: global (ceil(NQ/lq) * lq, H, B), local (lq, 1, 1). d, dv, bk (keys per
     * tile) and lq size the local and private arrays, so they are task scalars.
     */
    static void attention(KernelContext kc, FloatArray q, FloatArray k, FloatArray v, FloatArray out, IntArray g,
                          int d, int dv, int bk, int lq, float scale) {
        int l = kc.localIdx, i = kc.groupIdx * lq + l, h = kc.groupIdy, b = kc.groupIdz;
        int nq = g.get(NQ), nk = g.get(NK), heads = g.get(HEADS);
        boolean causal = g.get(CAUSAL) == 1;
        boolean active = i < nq;
        float[] kt = kc.allocateFloatLocalArray(bk * d);
        float[] vt = kc.allocateFloatLocalArray(bk * dv);
        float[] qr = new float[d];
        float[] acc = new float[dv];
        int qBase = g.get(Q_OFF) + b * g.get(Q_BS) + i * g.get(Q_RS) + h * d;
        for (int c = 0; c < d; c++) qr[c] = active ? q.get(qBase + c) : 0f;
        for (int c = 0; c < dv; c++) acc[c] = 0f;
        int kBase = g.get(K_OFF) + b * g.get(K_BS) + h * d, kRs = g.get(K_RS);
        int vBase = g.get(V_OFF) + b * g.get(V_BS) + h * dv, vRs = g.get(V_RS);
        // a causal work-group needs keys up to its last query only; the bound is the same for all its threads
        int keys = causal ? Math.min(nk, kc.groupIdx * lq + lq) : nk;
        float max = Float.NEGATIVE_INFINITY, sum = 0f;
        for (int k0 = 0; k0 < keys; k0 += bk) {
            for (int e = l; e < bk * d; e += lq) {
                int j = k0 + e / d;
                kt[e] = j < nk ? k.get(kBase + j * kRs + e % d) : 0f;
            }
            for (int e = l; e < bk * dv; e += lq) {
                int j = k0 + e / dv;
                vt[e] = j < nk ? v.get(vBase + j * vRs + e % dv) : 0f;
            }
            kc.localBarrier();
            if (active) {
                for (int jj = 0; jj < bk; jj++) {
                    int j = k0 + jj;
                    if (j < nk && (!causal || j <= i)) {
                        float s = 0f;
                        for (int c = 0; c < d; c++) s += qr[c] * kt[jj * d + c];
                        s *= scale;
                        if (s > max) {
                            float corr = (float) Math.exp(max - s);
                            sum *= corr;
                            for (int c = 0; c < dv; c++) acc[c] *= corr;
                            max = s;
                        }
                        float p = (float) Math.exp(s - max);
                        sum += p;
                        for (int c = 0; c < dv; c++) acc[c] += p * vt[jj * dv + c];
                    }
                }
            }
            kc.localBarrier();
        }
        if (active) {
            int o = (b * nq + i) * heads * dv + h * dv;
            for (int c = 0; c < dv; c++) out.set(o + c, acc[c] / sum);
        }
    }
}
