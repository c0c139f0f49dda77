package dev.tornadodiffusion.tensor.cpu;

import dev.tornadodiffusion.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import static dev.tornadodiffusion.tensor.cpu.Gemm.S;
import static dev.tornadodiffusion.tensor.cpu.Gemm.V;

/**
 * GroupNorm (+ fused SiLU), LayerNorm and softmax, vectorized. Statistics are two-pass (mean, then
 * squared deviations): float vector partial sums over short runs, accumulated in double.
 */
final class Norms {
    private Norms() {}

    /** Elements summed in float vector lanes before the partial sum moves to double. */
    private static final int RUN = 64 * V;

    static Tensor groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, float eps, boolean silu) {
        int n = x.dim(0), c = x.dim(1);
        if (groups < 1 || c % groups != 0) throw new IllegalArgumentException("group norm: " + c + " channels in " + groups + " groups");
        int spatial = (int) (x.numel() / ((long) n * c));
        int cg = c / groups, len = cg * spatial;
        float[] src = x.contiguousF32().array();
        float[] gamma = weight == null ? null : weight.contiguousF32().array();
        float[] beta = bias == null ? null : bias.contiguousF32().array();
        Tensor out = Tensor.zeros(x.shape());
        float[] dst = out.array();
        Parallel.forRange(n * groups, (g0, g1) -> {
            for (int ng = g0; ng < g1; ng++) {
                int base = ng * len;
                double mean = mean(src, base, len);
                float rstd = (float) (1.0 / Math.sqrt(squaredDeviations(src, base, len, mean) / len + eps));
                int g = ng % groups;
                for (int ci = 0; ci < cg; ci++) {
                    int ch = g * cg + ci;
                    float a = rstd * (gamma == null ? 1f : gamma[ch]), b = beta == null ? 0f : beta[ch];
                    affine(src, dst, base + ci * spatial, spatial, mean, a, b, silu);
                }
            }
        });
        return out;
    }

    static Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, float eps) {
        int d = x.dim(-1), rows = (int) (x.numel() / d);
        float[] src = x.contiguousF32().array();
        float[] gamma = weight == null ? null : weight.contiguousF32().array();
        float[] beta = bias == null ? null : bias.contiguousF32().array();
        Tensor out = Tensor.zeros(x.shape());
        float[] dst = out.array();
        Parallel.forRange(rows, 16, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int o = r * d;
                double mean = mean(src, o, d);
                float rstd = (float) (1.0 / Math.sqrt(squaredDeviations(src, o, d, mean) / d + eps));
                affine(src, dst, o, d, mean, rstd, 0f, false);
                if (gamma != null || beta != null) scaleShift(dst, o, d, gamma, beta);
            }
        });
        return out;
    }

    static Tensor softmax(Tensor x) {
        int d = x.dim(-1), rows = (int) (x.numel() / d);
        float[] src = x.contiguousF32().array();
        Tensor out = Tensor.zeros(x.shape());
        float[] dst = out.array();
        Parallel.forRange(rows, 16, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int o = r * d;
                // Masked vectors cover the tail of a row: rows of 77 (text tokens) are common.
                FloatVector vmax = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
                for (int i = 0; i < d; i += V) {
                    VectorMask<Float> m = S.indexInRange(i, d);
                    vmax = vmax.lanewise(VectorOperators.MAX, FloatVector.fromArray(S, src, o + i, m), m);
                }
                FloatVector vm = FloatVector.broadcast(S, vmax.reduceLanes(VectorOperators.MAX)), vsum = FloatVector.zero(S);
                for (int i = 0; i < d; i += V) {
                    VectorMask<Float> m = S.indexInRange(i, d);
                    FloatVector e = VectorMath.exp(FloatVector.fromArray(S, src, o + i, m).sub(vm));
                    e.intoArray(dst, o + i, m);
                    vsum = vsum.add(e, m);
                }
                float inv = (float) (1.0 / VectorMath.sum(vsum));
                for (int i = 0; i < d; i += V) {
                    VectorMask<Float> m = S.indexInRange(i, d);
                    FloatVector.fromArray(S, dst, o + i, m).mul(inv).intoArray(dst, o + i, m);
                }
            }
        });
        return out;
    }

    /** Sums {@code x - x[0]}: exact differences for data far from zero, then the offset back in double. */
    private static double mean(float[] a, int at, int len) {
        return a[at] + sum(a, at, len, a[at]) / len;
    }

    /** sum of {@code a[at..at+len) - shift}. */
    static double sum(float[] a, int at, int len, float shift) {
        FloatVector vs = FloatVector.broadcast(S, shift);
        double total = 0;
        for (int r = 0; r < len; r += RUN) {
            int end = Math.min(len, r + RUN), i = r;
            FloatVector acc = FloatVector.zero(S);
            for (; i <= end - V; i += V) acc = acc.add(FloatVector.fromArray(S, a, at + i).sub(vs));
            double part = VectorMath.sum(acc);
            for (; i < end; i++) part += a[at + i] - shift;
            total += part;
        }
        return total;
    }

    private static double squaredDeviations(float[] a, int at, int len, double mean) {
        float m = (float) mean;
        FloatVector vm = FloatVector.broadcast(S, m);
        double total = 0;
        for (int r = 0; r < len; r += RUN) {
            int end = Math.min(len, r + RUN), i = r;
            FloatVector acc = FloatVector.zero(S);
            for (; i <= end - V; i += V) {
                FloatVector d = FloatVector.fromArray(S, a, at + i).sub(vm);
                acc = d.fma(d, acc);
            }
            double part = VectorMath.sum(acc);
            for (; i < end; i++) { double d = a[at + i] - mean; part += d * d; }
            total += part;
        }
        // The float mean differs from the exact one by delta; remove its len * delta^2 contribution.
        double delta = m - mean;
        return Math.max(0, total - len * delta * delta);
    }

    /**
     * dst = (src - mean) * a + b, then SiLU if asked, over {@code len} elements. The mean is subtracted
     * as two floats (rounded mean, then its rounding error) so large offsets keep float precision.
     */
    private static void affine(float[] src, float[] dst, int at, int len, double mean, float a, float b, boolean silu) {
        float hi = (float) mean, lo = (float) (mean - hi);
        FloatVector vh = FloatVector.broadcast(S, hi), vl = FloatVector.broadcast(S, lo), va = FloatVector.broadcast(S, a), vb = FloatVector.broadcast(S, b);
        int i = 0;
        for (; i <= len - V; i += V) {
            FloatVector v = FloatVector.fromArray(S, src, at + i).sub(vh).sub(vl).fma(va, vb);
            if (silu) v = VectorMath.silu(v);
            v.intoArray(dst, at + i);
        }
        for (; i < len; i++) {
            float v = Math.fma(src[at + i] - hi - lo, a, b);
            dst[at + i] = silu ? v / (1f + (float) Math.exp(-v)) : v;
        }
    }

    private static void scaleShift(float[] x, int at, int len, float[] gamma, float[] beta) {
        int i = 0;
        for (; i <= len - V; i += V) {
            FloatVector v = FloatVector.fromArray(S, x, at + i);
            if (gamma != null) v = v.mul(FloatVector.fromArray(S, gamma, i));
            if (beta != null) v = v.add(FloatVector.fromArray(S, beta, i));
            v.intoArray(x, at + i);
        }
        for (; i < len; i++) {
            if (gamma != null) x[at + i] *= gamma[i];
            if (beta != null) x[at + i] += beta[i];
        }
    }
}
