package dev.tornadodiffusion.tensor.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.arrays.ShortArray;

/**
 * 2-D convolution on the device. The general kernel is an implicit GEMM, the same product as cpu/Conv2d's
 * im2col + GEMM without materialising the columns: per image and group, {@code out[oc, pixel] = W[oc, :] · col(pixel)},
 * where the B tile is gathered from the input while it is staged in local memory. Depthwise convolutions (one
 * input channel per group) have too little reuse for tiles and use a direct kernel.
 */
final class Conv2d {
    private Conv2d() {}

    // geometry: input dense NCHW from X_OFF, weight dense [OC, ICG*KH*KW] from W_OFF, output dense [N, OC, OH, OW]
    static final int C = 0, H = 1, W = 2, OC = 3, ICG = 4, KH = 5, KW = 6, STRIDE = 7, PAD = 8, OH = 9, OW = 10, GROUPS = 11,
            X_OFF = 12, W_OFF = 13, BIAS = 14, BIAS_OFF = 15, RES = 16, R_OFF = 17, R_BS = 18, R_RS = 19, R_CS = 20, OUTPUTS = 21, GEO = 22;

    /**
     * {@code out = (conv(x, w) + bias[oc] + R[n, oc, pixel]) * scale}. Launch: global (ceil(OH*OW/tile) * tile/micro,
     * ceil(OCG/tile) * tile/micro, N * groups), local (tile/micro, tile/micro, 1). The weight is {@code w} or raw
     * 16-bit {@code wh}, as {@code format} says (see {@link Gemm#widen}).
     */
    static void conv(KernelContext kc, FloatArray x, FloatArray w, ShortArray wh, FloatArray tab, FloatArray bias, FloatArray res, FloatArray out,
                     IntArray g, int tile, int micro, int ktile, int format, float scale) {
        int nt = tile / micro, threads = nt * nt;
        int tx = kc.localIdx, ty = kc.localIdy, z = kc.groupIdz;
        int row0 = kc.groupIdy * tile, col0 = kc.groupIdx * tile;
        int c = g.get(C), h = g.get(H), wd = g.get(W), oc = g.get(OC), icg = g.get(ICG), kh = g.get(KH), kw = g.get(KW);
        int stride = g.get(STRIDE), pad = g.get(PAD), ow = g.get(OW), groups = g.get(GROUPS);
        int pixels = g.get(OH) * ow, ocg = oc / groups, k = icg * kh * kw;
        int img = z / groups, grp = z % groups;
        int xBase = g.get(X_OFF) + (img * c + grp * icg) * h * wd;
        int wBase = g.get(W_OFF) + grp * ocg * k;
        float[] as = kc.allocateFloatLocalArray(tile * ktile);
        float[] bs = kc.allocateFloatLocalArray(tile * ktile);
        float[] acc = new float[micro * micro];
        float[] ar = new float[micro];
        float[] br = new float[micro];
        for (int i = 0; i < micro * micro; i++) acc[i] = 0f;
        int tid = ty * nt + tx;
        for (int k0 = 0; k0 < k; k0 += ktile) {
            for (int e = tid; e < tile * ktile; e += threads) {
                int r = e / ktile, kk = e % ktile;
                int row = row0 + r, p = k0 + kk;
                float v = 0f;
                if (row < ocg && p < k) {
                    int idx = wBase + row * k + p;
                    v = format == Gemm.F32 ? w.get(idx) : Gemm.widen(wh.get(idx), tab, format);
                }
                as[kk * tile + r] = v;
            }
            for (int e = tid; e < tile * ktile; e += threads) {
                int cc = e % tile, kk = e / tile;
                int col = col0 + cc, p = k0 + kk;
                float v = 0f;
                if (col < pixels && p < k) {
                    int ci = p / (kh * kw), ky = p / kw % kh, kx = p % kw;
                    int iy = col / ow * stride - pad + ky, ix = col % ow * stride - pad + kx;
                    if (iy >= 0 && iy < h && ix >= 0 && ix < wd) v = x.get(xBase + (ci * h + iy) * wd + ix);
                }
                bs[kk * tile + cc] = v;
            }
            kc.localBarrier();
            for (int kk = 0; kk < ktile; kk++) {
                for (int i = 0; i < micro; i++) ar[i] = as[kk * tile + ty + i * nt];
                for (int j = 0; j < micro; j++) br[j] = bs[kk * tile + tx + j * nt];
                for (int i = 0; i < micro; i++)
                    for (int j = 0; j < micro; j++) acc[i * micro + j] += ar[i] * br[j];
            }
            kc.localBarrier();
        }
        int hasBias = g.get(BIAS), biasOff = g.get(BIAS_OFF), hasRes = g.get(RES);
        int rBase = g.get(R_OFF) + img * g.get(R_BS), rRs = g.get(R_RS), rCs = g.get(R_CS);
        for (int i = 0; i < micro; i++) {
            int row = row0 + ty + i * nt;
            for (int j = 0; j < micro; j++) {
                int col = col0 + tx + j * nt;
                if (row < ocg && col < pixels) {
                    int o = grp * ocg + row;
                    float v = acc[i * micro + j];
                    if (hasBias == 1) v += bias.get(biasOff + o);
                    if (hasRes == 1) v += res.get(rBase + o * rRs + col * rCs);
                    out.set((img * oc + o) * pixels + col, v * scale);
                }
            }
        }
    }

    /** {@link #conv} with the weight in half precision ({@link Gemm#HALF}): only for devices with fp16 (a copy: see {@link Gemm#gemmHalf}). */
    static void convHalf(KernelContext kc, FloatArray x, HalfFloatArray w, FloatArray bias, FloatArray res, FloatArray out,
                         IntArray g, int tile, int micro, int ktile, float scale) {
        int nt = tile / micro, threads = nt * nt;
        int tx = kc.localIdx, ty = kc.localIdy, z = kc.groupIdz;
        int row0 = kc.groupIdy * tile, col0 = kc.groupIdx * tile;
        int c = g.get(C), h = g.get(H), wd = g.get(W), oc = g.get(OC), icg = g.get(ICG), kh = g.get(KH), kw = g.get(KW);
        int stride = g.get(STRIDE), pad = g.get(PAD), ow = g.get(OW), groups = g.get(GROUPS);
        int pixels = g.get(OH) * ow, ocg = oc / groups, k = icg * kh * kw;
        int img = z / groups, grp = z % groups;
        int xBase = g.get(X_OFF) + (img * c + grp * icg) * h * wd;
        int wBase = g.get(W_OFF) + grp * ocg * k;
        float[] as = kc.allocateFloatLocalArray(tile * ktile);
        float[] bs = kc.allocateFloatLocalArray(tile * ktile);
        float[] acc = new float[micro * micro];
        float[] ar = new float[micro];
        float[] br = new float[micro];
        for (int i = 0; i < micro * micro; i++) acc[i] = 0f;
        int tid = ty * nt + tx;
        for (int k0 = 0; k0 < k; k0 += ktile) {
            for (int e = tid; e < tile * ktile; e += threads) {
                int r = e / ktile, kk = e % ktile;
                int row = row0 + r, p = k0 + kk;
                float v = 0f;
                if (row < ocg && p < k) v = w.get(wBase + row * k + p).getFloat32();
                as[kk * tile + r] = v;
            }
            for (int e = tid; e < tile * ktile; e += threads) {
                int cc = e % tile, kk = e / tile;
                int col = col0 + cc, p = k0 + kk;
                float v = 0f;
                if (col < pixels && p < k) {
                    int ci = p / (kh * kw), ky = p / kw % kh, kx = p % kw;
                    int iy = col / ow * stride - pad + ky, ix = col % ow * stride - pad + kx;
                    if (iy >= 0 && iy < h && ix >= 0 && ix < wd) v = x.get(xBase + (ci * h + iy) * wd + ix);
                }
                bs[kk * tile + cc] = v;
            }
            kc.localBarrier();
            for (int kk = 0; kk < ktile; kk++) {
                for (int i = 0; i < micro; i++) ar[i] = as[kk * tile + ty + i * nt];
                for (int j = 0; j < micro; j++) br[j] = bs[kk * tile + tx + j * nt];
                for (int i = 0; i < micro; i++)
                    for (int j = 0; j < micro; j++) acc[i * micro + j] += ar[i] * br[j];
            }
            kc.localBarrier();
        }
        int hasBias = g.get(BIAS), biasOff = g.get(BIAS_OFF), hasRes = g.get(RES);
        int rBase = g.get(R_OFF) + img * g.get(R_BS), rRs = g.get(R_RS), rCs = g.get(R_CS);
        for (int i = 0; i < micro; i++) {
            int row = row0 + ty + i * nt;
            for (int j = 0; j < micro; j++) {
                int col = col0 + tx + j * nt;
                if (row < ocg && col < pixels) {
                    int o = grp * ocg + row;
                    float v = acc[i * micro + j];
                    if (hasBias == 1) v += bias.get(biasOff + o);
                    if (hasRes == 1) v += res.get(rBase + o * rRs + col * rCs);
                    out.set((img * oc + o) * pixels + col, v * scale);
                }
            }
        }
    }

    /** One output element per work-item, for groups with one input channel; F32 weights. */
    static void depthwise(KernelContext kc, FloatArray x, FloatArray w, FloatArray bias, FloatArray res, FloatArray out, IntArray g, float scale) {
        int i = kc.globalIdx;
        if (i < g.get(OUTPUTS)) {
            int c = g.get(C), h = g.get(H), wd = g.get(W), oc = g.get(OC), kh = g.get(KH), kw = g.get(KW);
            int stride = g.get(STRIDE), pad = g.get(PAD), oh = g.get(OH), ow = g.get(OW), groups = g.get(GROUPS);
            int ox = i % ow, oy = i / ow % oh, o = i / (ow * oh) % oc, img = i / (ow * oh * oc);
            int ci = o / (oc / groups);
            int xBase = g.get(X_OFF) + (img * c + ci) * h * wd, wBase = g.get(W_OFF) + o * kh * kw;
            float acc = 0f;
            for (int ky = 0; ky < kh; ky++) {
                int iy = oy * stride - pad + ky;
                for (int kx = 0; kx < kw; kx++) {
                    int ix = ox * stride - pad + kx;
                    if (iy >= 0 && iy < h && ix >= 0 && ix < wd) acc += w.get(wBase + ky * kw + kx) * x.get(xBase + iy * wd + ix);
                }
            }
            if (g.get(BIAS) == 1) acc += bias.get(g.get(BIAS_OFF) + o);
            if (g.get(RES) == 1) acc += res.get(g.get(R_OFF) + img * g.get(R_BS) + o * g.get(R_RS) + (oy * ow + ox) * g.get(R_CS));
            out.set(i, acc * scale);
        }
    }
}
