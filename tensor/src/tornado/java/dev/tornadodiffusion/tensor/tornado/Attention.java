package dev.tornadodiffusion.tensor.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * Fused multi-head attention on the device, flash-attention style: a work-group owns a tile of queries (one per
 * work-item) and streams tiles of keys and values through local memory; each work-item keeps an online softmax
 * (running max, sum and weighted value sum, as cpu/Attention) that is rescaled once per key tile, not per key.
 * No [Nq, Nk] score matrix exists anywhere; all arithmetic is float.
 */
final class Attention {
    private Attention() {}

    // geometry: q [B, NQ, H*D], k [B, NK, H*D], v [B, NK, H*DV], each with its own offset, batch and row stride
    static final int B = 0, NQ = 1, NK = 2, HEADS = 3, Q_OFF = 4, Q_BS = 5, Q_RS = 6, K_OFF = 7, K_BS = 8, K_RS = 9,
            V_OFF = 10, V_BS = 11, V_RS = 12, CAUSAL = 13, GEO = 14;

    /** Stands for minus infinity: fast-math device builds may assume that no infinities occur. */
    static final float LOWEST = -1e30f;

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
        float[] p = new float[bk];
        int qBase = g.get(Q_OFF) + b * g.get(Q_BS) + i * g.get(Q_RS) + h * d;
        // the scale is folded into q once
        for (int c = 0; c < d; c++) qr[c] = active ? q.get(qBase + c) * scale : 0f;
        for (int c = 0; c < dv; c++) acc[c] = 0f;
        int kBase = g.get(K_OFF) + b * g.get(K_BS) + h * d, kRs = g.get(K_RS);
        int vBase = g.get(V_OFF) + b * g.get(V_BS) + h * dv, vRs = g.get(V_RS);
        // a causal work-group needs keys up to its last query only; the bound is the same for all its threads
        int keys = causal ? Math.min(nk, kc.groupIdx * lq + lq) : nk;
        float max = LOWEST, sum = 0f;
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
                // 1. scores of the tile and their max
                float tileMax = max;
                for (int jj = 0; jj < bk; jj++) {
                    int j = k0 + jj;
                    float s = LOWEST;
                    if (j < nk && (!causal || j <= i)) {
                        s = 0f;
                        for (int c = 0; c < d; c++) s += qr[c] * kt[jj * d + c];
                    }
                    p[jj] = s;
                    tileMax = Math.max(tileMax, s);
                }
                if (tileMax > LOWEST) {
                    // 2. rescale what was summed so far to the new max, once per tile
                    float corr = TornadoMath.exp(max - tileMax);
                    max = tileMax;
                    sum *= corr;
                    for (int jj = 0; jj < bk; jj++) {
                        float e = p[jj] > LOWEST ? TornadoMath.exp(p[jj] - max) : 0f;
                        p[jj] = e;
                        sum += e;
                    }
                    // 3. add the tile's weighted values
                    for (int c = 0; c < dv; c++) {
                        float a = acc[c] * corr;
                        for (int jj = 0; jj < bk; jj++) a += p[jj] * vt[jj * dv + c];
                        acc[c] = a;
                    }
                }
            }
            kc.localBarrier();
        }
        if (active) {
            int o = (b * nq + i) * heads * dv + h * dv;
            float inv = 1f / sum;
            for (int c = 0; c < dv; c++) out.set(o + c, acc[c] * inv);
        }
    }
}
