package dev.tornadodiffusion.tensor.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * GroupNorm (+ fused SiLU), LayerNorm and softmax on the device, as cpu/Norms: work-groups of {@code ls}
 * threads (a power of two) reduce in local memory, mean first, then the squared deviations (the two-pass form
 * the CPU backend uses). A normalised group is split over several work-groups (statistics, then merge and
 * apply); a LayerNorm/softmax row is one work-group. Sizes come in a geometry array, so one compiled kernel
 * serves every shape (the OpenCL driver's cache then skips rebuilding it). Float arithmetic only.
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

    // geometry: group norm; each (image, group) is split into PARTS chunks of CHUNK elements
    static final int X_OFF = 0, GROUPS = 1, CG = 2, SPATIAL = 3, PARTS = 4, CHUNK = 5, GN_GEO = 6;
    // geometry: rows (layer norm, softmax)
    static final int R_OFF = 0, R_STRIDE = 1, R_LEN = 2, ROW_GEO = 3;

    /** Mean of {@code x[base + lo, base + hi)} over the work-group (all threads get it). */
    static float chunkMean(KernelContext kc, float[] red, FloatArray x, int base, int lo, int hi, int ls) {
        float s = 0f;
        for (int i = lo + kc.localIdx; i < hi; i += ls) s += x.get(base + i);
        return groupSum(kc, red, s, ls) / (hi - lo);
    }

    /** Sum of squared deviations from {@code mean} of the same range (the second pass of the two-pass variance). */
    static float chunkM2(KernelContext kc, float[] red, FloatArray x, int base, int lo, int hi, float mean, int ls) {
        float q = 0f;
        for (int i = lo + kc.localIdx; i < hi; i += ls) {
            float d = x.get(base + i) - mean;
            q += d * d;
        }
        return groupSum(kc, red, q, ls);
    }

    /**
     * GroupNorm statistics when a group is split into PARTS > 1 chunks (few groups for a GPU: an SD batch of 2 has
     * 64): work-group {@code ng * PARTS + p} reduces chunk p of group ng (x dense [N, C, spatial] from X_OFF) to its
     * mean and sum of squared deviations, written to {@code part[2 wg]} and {@code part[2 wg + 1]}.
     * Launch: global ls * N * groups * PARTS, local ls.
     */
    static void groupStats(KernelContext kc, FloatArray x, FloatArray part, IntArray g, int ls) {
        int wg = kc.groupIdx, parts = g.get(PARTS), chunk = g.get(CHUNK), len = g.get(CG) * g.get(SPATIAL);
        int ng = wg / parts, lo = wg % parts * chunk, hi = Math.min(len, lo + chunk);
        int base = g.get(X_OFF) + ng * len;
        float[] red = kc.allocateFloatLocalArray(ls);
        float mean = chunkMean(kc, red, x, base, lo, hi, ls);
        float m2 = chunkM2(kc, red, x, base, lo, hi, mean, ls);
        if (kc.localIdx == 0) {
            part.set(2 * wg, mean);
            part.set(2 * wg + 1, m2);
        }
    }

    /**
     * GroupNorm (+ SiLU, affine scale/shift if asked): work-group {@code ng * PARTS + p} normalises chunk p of group
     * ng. With PARTS = 1 it reduces the whole group itself; otherwise thread 0 merges the chunks' statistics from
     * {@link #groupStats} (Chan et al.: M2 = sum of M2_i + n_i (mean_i - mean)^2). Launch as {@link #groupStats}.
     * affine = 0 ignores gamma and beta.
     */
    static void groupNorm(KernelContext kc, FloatArray x, FloatArray gamma, FloatArray beta, FloatArray part, FloatArray out, IntArray g,
                          int affine, int silu, float eps, int ls) {
        int wg = kc.groupIdx, l = kc.localIdx;
        int groups = g.get(GROUPS), cg = g.get(CG), spatial = g.get(SPATIAL), parts = g.get(PARTS), chunk = g.get(CHUNK);
        int len = cg * spatial, ng = wg / parts, lo = wg % parts * chunk, hi = Math.min(len, lo + chunk);
        int base = g.get(X_OFF) + ng * len;
        float[] red = kc.allocateFloatLocalArray(ls);
        float mean, m2;
        if (parts == 1) {
            mean = chunkMean(kc, red, x, base, 0, len, ls);
            m2 = chunkM2(kc, red, x, base, 0, len, mean, ls);
        } else {
            if (l == 0) {
                float sum = 0f;
                for (int p = 0; p < parts; p++) sum += Math.min(chunk, len - p * chunk) * part.get(2 * (ng * parts + p));
                float mu = sum / len, q = 0f;
                for (int p = 0; p < parts; p++) {
                    float d = part.get(2 * (ng * parts + p)) - mu;
                    q += part.get(2 * (ng * parts + p) + 1) + Math.min(chunk, len - p * chunk) * d * d;
                }
                red[0] = mu;
                red[1] = q;
            }
            kc.localBarrier();
            mean = red[0];
            m2 = red[1];
        }
        float rstd = 1f / TornadoMath.sqrt(m2 / len + eps);
        int ch0 = ng % groups * cg;
        for (int i = lo + l; i < hi; i += ls) {
            int ch = ch0 + i / spatial;
            float a = affine == 1 ? rstd * gamma.get(ch) : rstd;
            float b = affine == 1 ? beta.get(ch) : 0f;
            float v = (x.get(base + i) - mean) * a + b;
            out.set(ng * len + i, silu == 1 ? v / (1f + TornadoMath.exp(-v)) : v);
        }
    }

    /** Rows of d contiguous values, row r at xOff + r * xRs; out dense. Launch: global ls * rows, local ls. */
    static void layerNorm(KernelContext kc, FloatArray x, FloatArray gamma, FloatArray beta, FloatArray out, IntArray g,
                          int hasGamma, int hasBeta, float eps, int ls) {
        int r = kc.groupIdx, l = kc.localIdx, d = g.get(R_LEN);
        int base = g.get(R_OFF) + r * g.get(R_STRIDE);
        float[] red = kc.allocateFloatLocalArray(ls);
        float mean = chunkMean(kc, red, x, base, 0, d, ls);
        float rstd = 1f / TornadoMath.sqrt(chunkM2(kc, red, x, base, 0, d, mean, ls) / d + eps);
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
        float m = -Float.MAX_VALUE;
        for (int i = l; i < d; i += ls) m = Math.max(m, x.get(base + i));
        float max = groupMax(kc, red, m, ls);
        float s = 0f;
        for (int i = l; i < d; i += ls) {
            float e = TornadoMath.exp(x.get(base + i) - max);
            out.set(r * d + i, e);
            s += e;
        }
        float inv = 1f / groupSum(kc, red, s, ls);
        for (int i = l; i < d; i += ls) out.set(r * d + i, out.get(r * d + i) * inv);
    }
}
