package dev.tornadodiffusion.tensor.cpu;

import dev.tornadodiffusion.tensor.Tensor;

/** GroupNorm (+ fused SiLU), LayerNorm and softmax; statistics accumulated in double. */
final class Norms {
    private Norms() {}

    static Tensor groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, float eps, boolean silu) {
        int n = x.dim(0), c = x.dim(1);
        if (c % groups != 0) throw new IllegalArgumentException("group norm: " + c + " channels in " + groups + " groups");
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
                double sum = 0, sq = 0;
                for (int i = 0; i < len; i++) sum += src[base + i];
                double mean = sum / len;
                for (int i = 0; i < len; i++) { double d = src[base + i] - mean; sq += d * d; }
                float m = (float) mean, rstd = (float) (1.0 / Math.sqrt(sq / len + eps));
                int g = ng % groups;
                for (int ci = 0; ci < cg; ci++) {
                    int ch = g * cg + ci;
                    float a = rstd * (gamma == null ? 1f : gamma[ch]), b = beta == null ? 0f : beta[ch];
                    int o = base + ci * spatial;
                    for (int i = 0; i < spatial; i++) {
                        float v = (src[o + i] - m) * a + b;
                        dst[o + i] = silu ? v / (1f + (float) Math.exp(-v)) : v;
                    }
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
                double sum = 0, sq = 0;
                for (int i = 0; i < d; i++) sum += src[o + i];
                double mean = sum / d;
                for (int i = 0; i < d; i++) { double t = src[o + i] - mean; sq += t * t; }
                float m = (float) mean, rstd = (float) (1.0 / Math.sqrt(sq / d + eps));
                for (int i = 0; i < d; i++) {
                    float v = (src[o + i] - m) * rstd;
                    if (gamma != null) v *= gamma[i];
                    if (beta != null) v += beta[i];
                    dst[o + i] = v;
                }
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
                float max = Float.NEGATIVE_INFINITY;
                for (int i = 0; i < d; i++) max = Math.max(max, src[o + i]);
                double sum = 0;
                for (int i = 0; i < d; i++) { float e = (float) Math.exp(src[o + i] - max); dst[o + i] = e; sum += e; }
                float inv = (float) (1.0 / sum);
                for (int i = 0; i < d; i++) dst[o + i] *= inv;
            }
        });
        return out;
    }
}
