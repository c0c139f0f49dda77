package dev.tornadodiffusion.tensor.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * GroupNorm (+ fused SiLU), LayerNorm and softmax on the device, as cpu/Norms: one work-group of {@code ls}
 * threads (a power of two) per normalised group or row; statistics are reduced in local memory, mean first,
 * then the squared deviations (the two-pass form the CPU backend uses). Sizes come in a geometry array, so one
 * compiled kernel serves every shape (the OpenCL driver's cache then skips rebuilding it).
 */
final class Norms {
    private Norms() {}

    /** Sum of every thread's {@code v} over the work-group; all threads get it. {@code red} has {@code ls} slots. */
    static float groupSum(KernelContext kc, float[] red, float v, int ls) {
        int l = kc.localIdx;
        red[l] = v;
        kc.localBarrier();
        for (int s = ls / 2; s > 0; s /= 2) {
            if (l < s) red[l] += red[l + s];
            kc.localBarrier();
        }
        float sum = red[0];
        kc.localBarrier();
        return sum;
    }

    static float groupMax(KernelContext kc, float[] red, float v, int ls) {
        int l = kc.localIdx;
        red[l] = v;
        kc.localBarrier();
        for (int s = ls / 2; s > 0; s /= 2) {
            if (l < s) red[l] = Math.max(red[l], red[l + s]);
            kc.localBarrier();
        }
        float max = red[0];
        kc.localBarrier();
        return max;
    }

    // geometry: group norm
    static final int X_OFF = 0, GROUPS = 1, CG = 2, SPATIAL = 3, GN_GEO = 4;
    // geometry: rows (layer norm, softmax)
    static final int R_OFF = 0, R_STRIDE = 1, R_LEN = 2, ROW_GEO = 3;

    /**
     * x dense [N, C, spatial] from xOff; one work-group per (image, group). Launch: global ls * N * groups, local ls.
     * affine = 0 ignores gamma and beta.
     */
    static void groupNorm(KernelContext kc, FloatArray x, FloatArray gamma, FloatArray beta, FloatArray out, IntArray g,
                          int affine, int silu, float eps, int ls) {
        int ng = kc.groupIdx, l = kc.localIdx;
        int xOff = g.get(X_OFF), groups = g.get(GROUPS), cg = g.get(CG), spatial = g.get(SPATIAL);
        int len = cg * spatial, base = ng * len;
        float[] red = kc.allocateFloatLocalArray(ls);
        float s = 0f;
        for (int i = l; i < len; i += ls) s += x.get(xOff + base + i);
        float mean = groupSum(kc, red, s, ls) / len;
        float q = 0f;
        for (int i = l; i < len; i += ls) {
            float d = x.get(xOff + base + i) - mean;
            q += d * d;
        }
        float var = groupSum(kc, red, q, ls) / len;
        float rstd = (float) (1.0 / Math.sqrt(var + eps));
        int ch0 = ng % groups * cg;
        for (int i = l; i < len; i += ls) {
            int ch = ch0 + i / spatial;
            float a = affine == 1 ? rstd * gamma.get(ch) : rstd;
            float b = affine == 1 ? beta.get(ch) : 0f;
            float v = (x.get(xOff + base + i) - mean) * a + b;
            out.set(base + i, silu == 1 ? v / (1f + (float) Math.exp(-v)) : v);
        }
    }

    /** Rows of d contiguous values, row r at xOff + r * xRs; out dense. Launch: global ls * rows, local ls. */
    static void layerNorm(KernelContext kc, FloatArray x, FloatArray gamma, FloatArray beta, FloatArray out, IntArray g,
                          int hasGamma, int hasBeta, float eps, int ls) {
        int r = kc.groupIdx, l = kc.localIdx, d = g.get(R_LEN);
        int base = g.get(R_OFF) + r * g.get(R_STRIDE);
        float[] red = kc.allocateFloatLocalArray(ls);
        float s = 0f;
        for (int i = l; i < d; i += ls) s += x.get(base + i);
        float mean = groupSum(kc, red, s, ls) / d;
        float q = 0f;
        for (int i = l; i < d; i += ls) {
            float t = x.get(base + i) - mean;
            q += t * t;
        }
        float var = groupSum(kc, red, q, ls) / d;
        float rstd = (float) (1.0 / Math.sqrt(var + eps));
        for (int i = l; i < d; i += ls) {
            float v = (x.get(base + i) - mean) * rstd;
            if (hasGamma == 1) v *= gamma.get(i);
            if (hasBeta == 1) v += beta.get(i);
            out.set(r * d + i, v);
        }
    }

    /** Softmax of rows as {@link #layerNorm} lays them out. */
    static void softmax(KernelContext kc, FloatArray x, FloatArray out, IntArray g, int ls) {
        int r = kc.groupIdx, l = kc.localIdx, d = g.get(R_LEN);
        int base = g.get(R_OFF) + r * g.get(R_STRIDE);
        float[] red = kc.allocateFloatLocalArray(ls);
        float m = Float.NEGATIVE_INFINITY;
        for (int i = l; i < d; i += ls) m = Math.max(m, x.get(base + i));
        float max = groupMax(kc, red, m, ls);
        float s = 0f;
        for (int i = l; i < d; i += ls) {
            float e = (float) Math.exp(x.get(base + i) - max);
            out.set(r * d + i, e);
            s += e;
        }
        float inv = (float) (1.0 / groupSum(kc, red, s, ls));
        for (int i = l; i < d; i += ls) out.set(r * d + i, out.get(r * d + i) * inv);
    }
}
