package dev.tornadodiffusion.tensor.cpu;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.Arrays;

/**
 * The definition of every {@link Backend} op in plain loops, one element at a time through
 * {@link Tensor#get}, sums in double: slow and obviously right, the reference the fast
 * {@link CpuBackend} is tested against.
 */
final class ScalarReference implements Backend {

    @Override public String name() { return "scalar-reference"; }

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        int m = a.dim(-2), k = a.dim(-1), n = b.dim(-1);
        if (b.dim(-2) != k) throw new IllegalArgumentException("matmul shapes");
        int[] batch = Backend.broadcastShape(Arrays.copyOf(a.shape(), a.rank() - 2), Arrays.copyOf(b.shape(), b.rank() - 2));
        int[] shape = Arrays.copyOf(batch, batch.length + 2);
        shape[batch.length] = m;
        shape[batch.length + 1] = n;
        Tensor out = Tensor.zeros(shape);
        int batches = (int) Tensor.numel(batch);
        for (int bi = 0; bi < batches; bi++) {
            Tensor x = Broadcast.matrix(a, batch, bi), y = Broadcast.matrix(b, batch, bi);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int p = 0; p < k; p++) s += (double) x.get(i, p) * y.get(p, j);
                    out.array()[(bi * m + i) * n + j] = (float) s;
                }
        }
        return out;
    }

    @Override
    public Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        int in = x.dim(-1), outF = weight.dim(0), rows = (int) (x.numel() / in);
        int[] shape = x.shape();
        shape[shape.length - 1] = outF;
        Tensor out = Tensor.zeros(shape);
        Tensor x2 = x.reshape(rows, in);
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outF; o++) {
                double s = bias == null ? 0 : bias.get(o);
                for (int i = 0; i < in; i++) s += (double) x2.get(r, i) * weight.get(o, i);
                out.array()[r * outF + o] = (float) s;
            }
        return out;
    }

    @Override
    public Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int stride, int padding, int groups) {
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        int oc = weight.dim(0), icg = weight.dim(1), kh = weight.dim(2), kw = weight.dim(3);
        int oh = (h + 2 * padding - kh) / stride + 1, ow = (w + 2 * padding - kw) / stride + 1, ocg = oc / groups;
        Tensor out = Tensor.zeros(n, oc, oh, ow);
        for (int b = 0; b < n; b++)
            for (int o = 0; o < oc; o++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++) {
                        double s = bias == null ? 0 : bias.get(o);
                        for (int ci = 0; ci < icg; ci++)
                            for (int ky = 0; ky < kh; ky++)
                                for (int kx = 0; kx < kw; kx++) {
                                    int iy = oy * stride - padding + ky, ix = ox * stride - padding + kx;
                                    if (iy >= 0 && iy < h && ix >= 0 && ix < w)
                                        s += (double) x.get(b, o / ocg * icg + ci, iy, ix) * weight.get(o, ci, ky, kx);
                                }
                        out.set((float) s, b, o, oy, ox);
                    }
        return out;
    }

    @Override
    public Tensor pad2d(Tensor x, int left, int right, int top, int bottom) {
        int[] s = x.shape();
        int r = s.length, h = s[r - 2], w = s[r - 1];
        s[r - 2] = h + top + bottom;
        s[r - 1] = w + left + right;
        Tensor out = Tensor.zeros(s);
        int planes = (int) (x.numel() / ((long) h * w));
        for (int p = 0; p < planes; p++)
            for (int y = 0; y < h; y++)
                for (int xx = 0; xx < w; xx++)
                    out.array()[(p * s[r - 2] + y + top) * s[r - 1] + xx + left] = x.getFlat((long) (p * h + y) * w + xx);
        return out;
    }

    /** Scores for one query row, a plain softmax, then the weighted sum of values. */
    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, boolean causal) {
        int b = q.dim(0), nq = q.dim(1), nk = k.dim(1), dq = q.dim(2) / heads, dv = v.dim(2) / heads;
        Tensor out = Tensor.zeros(b, nq, heads * dv);
        double scale = 1.0 / Math.sqrt(dq);
        for (int bi = 0; bi < b; bi++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < nq; i++) {
                    int keys = causal ? Math.min(nk, i + 1) : nk;
                    double[] p = new double[keys];
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int j = 0; j < keys; j++) {
                        double s = 0;
                        for (int d = 0; d < dq; d++) s += (double) q.get(bi, i, h * dq + d) * k.get(bi, j, h * dq + d);
                        p[j] = s * scale;
                        max = Math.max(max, p[j]);
                    }
                    for (int j = 0; j < keys; j++) { p[j] = Math.exp(p[j] - max); sum += p[j]; }
                    for (int d = 0; d < dv; d++) {
                        double s = 0;
                        for (int j = 0; j < keys; j++) s += p[j] * v.get(bi, j, h * dv + d);
                        out.set((float) (s / sum), bi, i, h * dv + d);
                    }
                }
        return out;
    }

    @Override
    public Tensor groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, float eps, boolean silu) {
        int n = x.dim(0), c = x.dim(1), spatial = (int) (x.numel() / ((long) n * c)), cg = c / groups, len = cg * spatial;
        Tensor out = Tensor.zeros(x.shape());
        for (int ng = 0; ng < n * groups; ng++) {
            long base = (long) ng * len;
            double sum = 0, sq = 0;
            for (int i = 0; i < len; i++) sum += x.getFlat(base + i);
            double mean = sum / len;
            for (int i = 0; i < len; i++) { double d = x.getFlat(base + i) - mean; sq += d * d; }
            double rstd = 1.0 / Math.sqrt(sq / len + eps);
            for (int i = 0; i < len; i++) {
                int ch = ng % groups * cg + i / spatial;
                double v = (x.getFlat(base + i) - mean) * rstd * (weight == null ? 1 : weight.get(ch)) + (bias == null ? 0 : bias.get(ch));
                out.array()[(int) base + i] = (float) (silu ? v / (1 + Math.exp(-v)) : v);
            }
        }
        return out;
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, float eps) {
        int d = x.dim(-1), rows = (int) (x.numel() / d);
        Tensor out = Tensor.zeros(x.shape());
        for (int r = 0; r < rows; r++) {
            double sum = 0, sq = 0;
            for (int i = 0; i < d; i++) sum += x.getFlat((long) r * d + i);
            double mean = sum / d;
            for (int i = 0; i < d; i++) { double t = x.getFlat((long) r * d + i) - mean; sq += t * t; }
            double rstd = 1.0 / Math.sqrt(sq / d + eps);
            for (int i = 0; i < d; i++) {
                double v = (x.getFlat((long) r * d + i) - mean) * rstd;
                if (weight != null) v *= weight.get(i);
                if (bias != null) v += bias.get(i);
                out.array()[r * d + i] = (float) v;
            }
        }
        return out;
    }

    @Override
    public Tensor softmax(Tensor x) {
        int d = x.dim(-1), rows = (int) (x.numel() / d);
        Tensor out = Tensor.zeros(x.shape());
        for (int r = 0; r < rows; r++) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int i = 0; i < d; i++) max = Math.max(max, x.getFlat((long) r * d + i));
            for (int i = 0; i < d; i++) sum += Math.exp(x.getFlat((long) r * d + i) - max);
            for (int i = 0; i < d; i++) out.array()[r * d + i] = (float) (Math.exp(x.getFlat((long) r * d + i) - max) / sum);
        }
        return out;
    }

    private interface Fn { double apply(double v); }

    private static Tensor map(Tensor x, Fn f) {
        Tensor out = Tensor.zeros(x.shape());
        for (int i = 0; i < out.numel(); i++) out.array()[i] = (float) f.apply(x.getFlat(i));
        return out;
    }

    @Override public Tensor silu(Tensor x) { return map(x, v -> v / (1 + Math.exp(-v))); }
    @Override public Tensor gelu(Tensor x) { return map(x, v -> 0.5 * v * (1 + Erf.erf(v / Math.sqrt(2)))); }
    @Override public Tensor geluTanh(Tensor x) { return map(x, v -> 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)))); }
    @Override public Tensor quickGelu(Tensor x) { return map(x, v -> v / (1 + Math.exp(-1.702 * v))); }
    @Override public Tensor exp(Tensor x) { return map(x, Math::exp); }
    @Override public Tensor sin(Tensor x) { return map(x, Math::sin); }
    @Override public Tensor cos(Tensor x) { return map(x, Math::cos); }
    @Override public Tensor clamp(Tensor x, float lo, float hi) { return map(x, v -> Math.min(Math.max(v, lo), hi)); }
    @Override public Tensor scale(Tensor x, float s) { return map(x, v -> (float) v * s); }

    private interface Op { float apply(float a, float b); }

    private static Tensor binary(Tensor a, Tensor b, Op f) {
        int[] shape = Backend.broadcastShape(a.shape(), b.shape());
        Tensor out = Tensor.zeros(shape);
        int[] idx = new int[shape.length];
        for (int i = 0; i < out.numel(); i++) {
            long rem = i;
            for (int d = shape.length - 1; d >= 0; d--) { idx[d] = (int) (rem % shape[d]); rem /= shape[d]; }
            out.array()[i] = f.apply(a.get(broadcastIndex(idx, a.shape())), b.get(broadcastIndex(idx, b.shape())));
        }
        return out;
    }

    private static int[] broadcastIndex(int[] idx, int[] shape) {
        int[] r = new int[shape.length];
        for (int d = 0; d < shape.length; d++) r[d] = shape[d] == 1 ? 0 : idx[idx.length - shape.length + d];
        return r;
    }

    @Override public Tensor add(Tensor a, Tensor b) { return binary(a, b, Float::sum); }
    @Override public Tensor sub(Tensor a, Tensor b) { return binary(a, b, (x, y) -> x - y); }
    @Override public Tensor mul(Tensor a, Tensor b) { return binary(a, b, (x, y) -> x * y); }

    @Override
    public Tensor embedding(Tensor table, Tensor ids) {
        int d = table.dim(1), n = (int) ids.numel();
        float[] o = new float[n * d];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) o[i * d + j] = table.get((int) ids.getLongFlat(i), j);
        int[] shape = Arrays.copyOf(ids.shape(), ids.rank() + 1);
        shape[ids.rank()] = d;
        return Tensor.of(o, shape);
    }

    @Override
    public Tensor concat(int dim, Tensor... xs) {
        int d = dim < 0 ? dim + xs[0].rank() : dim;
        int[] shape = xs[0].shape();
        shape[d] = 0;
        for (Tensor t : xs) shape[d] += t.dim(d);
        Tensor out = Tensor.zeros(shape);
        int at = 0;
        for (Tensor t : xs) {
            int[] idx = new int[shape.length];
            for (long i = 0; i < t.numel(); i++) {
                long rem = i;
                for (int k = shape.length - 1; k >= 0; k--) { idx[k] = (int) (rem % t.dim(k)); rem /= t.dim(k); }
                float v = t.get(idx);
                idx[d] += at;
                out.set(v, idx);
            }
            at += t.dim(d);
        }
        return out;
    }

    @Override
    public Tensor upsampleNearest2x(Tensor x) {
        int[] s = x.shape();
        int r = s.length, h = s[r - 2], w = s[r - 1];
        s[r - 2] = 2 * h;
        s[r - 1] = 2 * w;
        Tensor out = Tensor.zeros(s);
        for (int i = 0; i < out.numel(); i++) {
            int xx = i % (2 * w), y = i / (2 * w) % (2 * h), p = i / (4 * h * w);
            out.array()[i] = x.getFlat((long) (p * h + y / 2) * w + xx / 2);
        }
        return out;
    }

    @Override
    public Tensor timestepEmbedding(Tensor timesteps, int dim, boolean flipSinToCos, float downscaleFreqShift, float scale, float maxPeriod) {
        int n = (int) timesteps.numel(), half = dim / 2;
        Tensor out = Tensor.zeros(n, dim);
        for (int r = 0; r < n; r++)
            for (int i = 0; i < half; i++) {
                float freq = (float) Math.exp((float) -Math.log(maxPeriod) * i / (half - downscaleFreqShift));
                float arg = scale * (timesteps.getFlat(r) * freq);
                float sin = (float) Math.sin(arg), cos = (float) Math.cos(arg);
                out.set(flipSinToCos ? cos : sin, r, i);
                out.set(flipSinToCos ? sin : cos, r, half + i);
            }
        return out;
    }
}
