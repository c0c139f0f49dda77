package dev.tornadodiffusion.tensor.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.arrays.ShortArray;

/**
 * The GEMM of matmul and linear on the device: {@code C[z] = (act(A[z]) · B[z] + bias + R[z]) * scale} for
 * every batch index z, A and B any strided 2-D views (a transposed weight is B with row stride 1), B in F32
 * or as raw F16/BF16 words widened in the kernel, or (on devices with fp16) in a HalfFloatArray that the device
 * converts itself ({@link #gemmHalf}: a separate kernel, since a half parameter does not compile without fp16).
 * A work-group computes a tile x tile block of C from tiles of
 * A and B staged in local memory; each thread keeps micro x micro results in registers.
 */
final class Gemm {
    private Gemm() {}

    /** How weights are stored on the device; F32 means the float operand is used, HALF a HalfFloatArray. */
    static final int F32 = 0, F16 = 1, BF16 = 2, HALF = 3;

    // geometry
    static final int M = 0, N = 1, K = 2, A_OFF = 3, A_BS = 4, A_RS = 5, A_CS = 6, B_OFF = 7, B_BS = 8, B_RS = 9, B_CS = 10,
            BIAS = 11, BIAS_OFF = 12, RES = 13, R_OFF = 14, R_BS = 15, R_RS = 16, R_CS = 17, PARTS = 18, PART_N = 19, GEO = 20;

    /**
     * Powers of two that widen 16-bit floats with integer operations only (OpenCL devices without fp16 cannot
     * use half, and TornadoVM cannot compile bit casts): F16 {@code tab[e] = 2^(e-25)}, BF16 {@code 2^(e-134)}.
     * Entry 1 also scales subnormals. Infinities and NaN are not handled: weights have none.
     */
    static float[] widenTable(int format) {
        float[] t = new float[format == F16 ? 32 : 256];
        for (int e = 1; e < t.length; e++) t[e] = (float) Math.scalb(1.0, e - (format == F16 ? 25 : 134));
        return t;
    }

    /** The float value of raw 16-bit word {@code bits} in {@code format}, with {@code tab} from {@link #widenTable}. */
    static float widen(short bits, FloatArray tab, int format) {
        int b = bits & 0xffff;
        int e, m, implicit;
        if (format == F16) {
            e = (b >> 10) & 0x1f;
            m = b & 0x3ff;
            implicit = 1024;
        } else {
            e = (b >> 7) & 0xff;
            m = b & 0x7f;
            implicit = 128;
        }
        float mag = e == 0 ? m * tab.get(1) : (implicit + m) * tab.get(e);
        return (b & 0x8000) != 0 ? -mag : mag;
    }

    /**
     * Launch: global (ceil(N/tile) * tile/micro, ceil(M/tile) * tile/micro, batch), local (tile/micro, tile/micro, 1).
     * {@code b} or {@code bh} holds B (the other is a placeholder), as {@code format} says. With PARTS > 1, B is
     * several weights side by side (the q, k, v projections of one input) and column block p of width PART_N goes
     * to output p: c, c1 or c2 (unused ones are placeholders).
     */
    static void gemm(KernelContext kc, FloatArray a, FloatArray b, ShortArray bh, FloatArray tab, FloatArray bias, FloatArray res,
                     FloatArray c, FloatArray c1, FloatArray c2, IntArray g, int tile, int micro, int ktile, int format, int act, float scale) {
        int nt = tile / micro, threads = nt * nt;
        int tx = kc.localIdx, ty = kc.localIdy, z = kc.groupIdz;
        int row0 = kc.groupIdy * tile, col0 = kc.groupIdx * tile;
        int m = g.get(M), n = g.get(N), k = g.get(K);
        int aBase = g.get(A_OFF) + z * g.get(A_BS), aRs = g.get(A_RS), aCs = g.get(A_CS);
        int bBase = g.get(B_OFF) + z * g.get(B_BS), bRs = g.get(B_RS), bCs = g.get(B_CS);
        float[] as = kc.allocateFloatLocalArray(tile * ktile);
        float[] bs = kc.allocateFloatLocalArray(tile * ktile);
        float[] acc = new float[micro * micro];
        float[] ar = new float[micro];
        float[] br = new float[micro];
        for (int i = 0; i < micro * micro; i++) acc[i] = 0f;
        int tid = ty * nt + tx;
        for (int k0 = 0; k0 < k; k0 += ktile) {
            // consecutive threads read consecutive addresses of whichever dimension is contiguous
            for (int e = tid; e < tile * ktile; e += threads) {
                int r = aCs == 1 ? e / ktile : e % tile;
                int kk = aCs == 1 ? e % ktile : e / tile;
                int row = row0 + r, p = k0 + kk;
                float v = 0f;
                if (row < m && p < k) v = Elementwise.unary(a.get(aBase + row * aRs + p * aCs), act);
                as[kk * tile + r] = v;
            }
            for (int e = tid; e < tile * ktile; e += threads) {
                int cc = bCs == 1 ? e % tile : e / ktile;
                int kk = bCs == 1 ? e / tile : e % ktile;
                int col = col0 + cc, p = k0 + kk;
                float v = 0f;
                if (col < n && p < k) {
                    int idx = bBase + p * bRs + col * bCs;
                    v = format == F32 ? b.get(idx) : widen(bh.get(idx), tab, format);
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
        int hasBias = g.get(BIAS), biasOff = g.get(BIAS_OFF), hasRes = g.get(RES), parts = g.get(PARTS), pn = g.get(PART_N);
        int rBase = g.get(R_OFF) + z * g.get(R_BS), rRs = g.get(R_RS), rCs = g.get(R_CS);
        for (int i = 0; i < micro; i++) {
            int row = row0 + ty + i * nt;
            for (int j = 0; j < micro; j++) {
                int col = col0 + tx + j * nt;
                if (row < m && col < n) {
                    float v = acc[i * micro + j];
                    if (hasBias == 1) v += bias.get(biasOff + col);
                    if (hasRes == 1) v += res.get(rBase + row * rRs + col * rCs);
                    v *= scale;
                    if (parts == 1) c.set((z * m + row) * n + col, v);
                    else {
                        int part = col / pn, o = (z * m + row) * pn + col % pn;
                        if (part == 0) c.set(o, v);
                        else if (part == 1) c1.set(o, v);
                        else c2.set(o, v);
                    }
                }
            }
        }
    }

    /**
     * {@link #gemm} with B in half precision ({@link #HALF}), converted by the device: only for devices with fp16.
     * (A copy of gemm's body: with the tile loops moved into helpers that take the local and private arrays, TornadoVM 5.2
     * computed wrong results on PoCL, so the two kernels cannot share them.)
     */
    static void gemmHalf(KernelContext kc, FloatArray a, HalfFloatArray b, FloatArray bias, FloatArray res,
                         FloatArray c, FloatArray c1, FloatArray c2, IntArray g, int tile, int micro, int ktile, int act, float scale) {
        int nt = tile / micro, threads = nt * nt;
        int tx = kc.localIdx, ty = kc.localIdy, z = kc.groupIdz;
        int row0 = kc.groupIdy * tile, col0 = kc.groupIdx * tile;
        int m = g.get(M), n = g.get(N), k = g.get(K);
        int aBase = g.get(A_OFF) + z * g.get(A_BS), aRs = g.get(A_RS), aCs = g.get(A_CS);
        int bBase = g.get(B_OFF) + z * g.get(B_BS), bRs = g.get(B_RS), bCs = g.get(B_CS);
        float[] as = kc.allocateFloatLocalArray(tile * ktile);
        float[] bs = kc.allocateFloatLocalArray(tile * ktile);
        float[] acc = new float[micro * micro];
        float[] ar = new float[micro];
        float[] br = new float[micro];
        for (int i = 0; i < micro * micro; i++) acc[i] = 0f;
        int tid = ty * nt + tx;
        for (int k0 = 0; k0 < k; k0 += ktile) {
            // consecutive threads read consecutive addresses of whichever dimension is contiguous
            for (int e = tid; e < tile * ktile; e += threads) {
                int r = aCs == 1 ? e / ktile : e % tile;
                int kk = aCs == 1 ? e % ktile : e / tile;
                int row = row0 + r, p = k0 + kk;
                float v = 0f;
                if (row < m && p < k) v = Elementwise.unary(a.get(aBase + row * aRs + p * aCs), act);
                as[kk * tile + r] = v;
            }
            for (int e = tid; e < tile * ktile; e += threads) {
                int cc = bCs == 1 ? e % tile : e / ktile;
                int kk = bCs == 1 ? e / tile : e % ktile;
                int col = col0 + cc, p = k0 + kk;
                float v = 0f;
                if (col < n && p < k) v = b.get(bBase + p * bRs + col * bCs).getFloat32();
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
        int hasBias = g.get(BIAS), biasOff = g.get(BIAS_OFF), hasRes = g.get(RES), parts = g.get(PARTS), pn = g.get(PART_N);
        int rBase = g.get(R_OFF) + z * g.get(R_BS), rRs = g.get(R_RS), rCs = g.get(R_CS);
        for (int i = 0; i < micro; i++) {
            int row = row0 + ty + i * nt;
            for (int j = 0; j < micro; j++) {
                int col = col0 + tx + j * nt;
                if (row < m && col < n) {
                    float v = acc[i * micro + j];
                    if (hasBias == 1) v += bias.get(biasOff + col);
                    if (hasRes == 1) v += res.get(rBase + row * rRs + col * rCs);
                    v *= scale;
                    if (parts == 1) c.set((z * m + row) * n + col, v);
                    else {
                        int part = col / pn, o = (z * m + row) * pn + col % pn;
                        if (part == 0) c.set(o, v);
                        else if (part == 1) c1.set(o, v);
                        else c2.set(o, v);
                    }
                }
            }
        }
    }
}
