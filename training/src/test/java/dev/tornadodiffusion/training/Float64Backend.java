package dev.tornadodiffusion.training;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.tensor.cpu.Erf;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * Every forward op from its definition in double precision, on F64 tensors (inputs of any dtype are read
 * exactly): the function whose central finite differences the gradients are checked against. Plain loops,
 * slow, for small shapes only.
 */
final class Float64Backend implements Backend {

    static Tensor f64(double[] a, int... shape) {
        return Tensor.wrap(MemorySegment.ofArray(a), DType.F64, shape);
    }

    /** The elements in row-major order, exactly (a dense F64 tensor is copied in one go). */
    static double[] d(Tensor t) {
        if (t.dtype() == DType.F64 && t.isContiguous())
            return t.segment().asSlice(t.offset() * Double.BYTES, t.numel() * Double.BYTES).toArray(ValueLayout.JAVA_DOUBLE);
        return t.toDoubleArray();
    }

    @Override public String name() { return "float64-reference"; }

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        int m = a.dim(-2), k = a.dim(-1), n = b.dim(-1);
        int[] ba = Arrays.copyOf(a.shape(), a.rank() - 2), bb = Arrays.copyOf(b.shape(), b.rank() - 2);
        int[] batch = broadcast(ba, bb);
        int[] shape = Arrays.copyOf(batch, batch.length + 2);
        shape[batch.length] = m;
        shape[batch.length + 1] = n;
        double[] x = d(a), y = d(b), o = new double[Math.toIntExact(Tensor.numel(shape))];
        int batches = (int) Tensor.numel(batch);
        for (int bi = 0; bi < batches; bi++) {
            int ia = source(bi, batch, ba), ib = source(bi, batch, bb);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int p = 0; p < k; p++) s += x[(ia * m + i) * k + p] * y[(ib * k + p) * n + j];
                    o[(bi * m + i) * n + j] = s;
                }
        }
        return f64(o, shape);
    }

    @Override
    public Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        int in = x.dim(-1), out = weight.dim(0), rows = (int) (x.numel() / in);
        double[] a = d(x), w = d(weight), b = bias == null ? null : d(bias), o = new double[rows * out];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < out; j++) {
                double s = b == null ? 0 : b[j];
                for (int i = 0; i < in; i++) s += a[r * in + i] * w[j * in + i];
                o[r * out + j] = s;
            }
        int[] shape = x.shape();
        shape[shape.length - 1] = out;
        return f64(o, shape);
    }

    @Override
    public Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int stride, int padding, int groups) {
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3), oc = weight.dim(0), icg = weight.dim(1), kh = weight.dim(2), kw = weight.dim(3);
        int oh = (h + 2 * padding - kh) / stride + 1, ow = (w + 2 * padding - kw) / stride + 1, ocg = oc / groups;
        double[] a = d(x), wt = d(weight), b = bias == null ? null : d(bias), o = new double[n * oc * oh * ow];
        for (int bi = 0; bi < n; bi++)
            for (int co = 0; co < oc; co++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++) {
                        double s = b == null ? 0 : b[co];
                        for (int ci = 0; ci < icg; ci++)
                            for (int ky = 0; ky < kh; ky++)
                                for (int kx = 0; kx < kw; kx++) {
                                    int iy = oy * stride - padding + ky, ix = ox * stride - padding + kx;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                    int cin = co / ocg * icg + ci;
                                    s += a[((bi * c + cin) * h + iy) * w + ix] * wt[((co * icg + ci) * kh + ky) * kw + kx];
                                }
                        o[((bi * oc + co) * oh + oy) * ow + ox] = s;
                    }
        return f64(o, n, oc, oh, ow);
    }

    @Override
    public Tensor pad2d(Tensor x, int left, int right, int top, int bottom) {
        int[] s = x.shape();
        int r = s.length, h = s[r - 2], w = s[r - 1], oh = h + top + bottom, ow = w + left + right, planes = (int) (x.numel() / ((long) h * w));
        double[] a = d(x), o = new double[planes * oh * ow];
        for (int p = 0; p < planes; p++)
            for (int y = 0; y < h; y++)
                for (int i = 0; i < w; i++) o[(p * oh + y + top) * ow + i + left] = a[(p * h + y) * w + i];
        s[r - 2] = oh;
        s[r - 1] = ow;
        return f64(o, s);
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, boolean causal) {
        int b = q.dim(0), nq = q.dim(1), nk = k.dim(1), dq = q.dim(2) / heads, dv = v.dim(2) / heads;
        double[] qa = d(q), ka = d(k), va = d(v), o = new double[b * nq * heads * dv], p = new double[nk];
        double scale = 1 / Math.sqrt(dq);
        for (int bi = 0; bi < b; bi++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < nq; i++) {
                    int keys = causal ? Math.min(nk, i + 1) : nk;
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int j = 0; j < keys; j++) {
                        double s = 0;
                        for (int c = 0; c < dq; c++) s += qa[(bi * nq + i) * heads * dq + h * dq + c] * ka[(bi * nk + j) * heads * dq + h * dq + c];
                        p[j] = s * scale;
                        max = Math.max(max, p[j]);
                    }
                    for (int j = 0; j < keys; j++) sum += p[j] = Math.exp(p[j] - max);
                    for (int c = 0; c < dv; c++) {
                        double s = 0;
                        for (int j = 0; j < keys; j++) s += p[j] * va[(bi * nk + j) * heads * dv + h * dv + c];
                        o[(bi * nq + i) * heads * dv + h * dv + c] = s / sum;
                    }
                }
        return f64(o, b, nq, heads * dv);
    }

    @Override
    public Tensor groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, float eps, boolean silu) {
        int n = x.dim(0), c = x.dim(1), spatial = (int) (x.numel() / ((long) n * c)), cg = c / groups, len = cg * spatial;
        double[] a = d(x), g = weight == null ? null : d(weight), b = bias == null ? null : d(bias), o = new double[a.length];
        for (int ng = 0; ng < n * groups; ng++) {
            int base = ng * len;
            double[] st = meanRstd(a, base, len, eps);
            for (int i = 0; i < len; i++) {
                int ch = ng % groups * cg + i / spatial;
                double y = (a[base + i] - st[0]) * st[1] * (g == null ? 1 : g[ch]) + (b == null ? 0 : b[ch]);
                o[base + i] = silu ? y / (1 + Math.exp(-y)) : y;
            }
        }
        return f64(o, x.shape());
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, float eps) {
        int dim = x.dim(-1), rows = (int) (x.numel() / dim);
        double[] a = d(x), g = weight == null ? null : d(weight), b = bias == null ? null : d(bias), o = new double[a.length];
        for (int r = 0; r < rows; r++) {
            double[] st = meanRstd(a, r * dim, dim, eps);
            for (int i = 0; i < dim; i++) o[r * dim + i] = (a[r * dim + i] - st[0]) * st[1] * (g == null ? 1 : g[i]) + (b == null ? 0 : b[i]);
        }
        return f64(o, x.shape());
    }

    private static double[] meanRstd(double[] a, int at, int len, float eps) {
        double mean = 0, var = 0;
        for (int i = at; i < at + len; i++) mean += a[i];
        mean /= len;
        for (int i = at; i < at + len; i++) var += (a[i] - mean) * (a[i] - mean);
        return new double[]{mean, 1 / Math.sqrt(var / len + eps)};
    }

    @Override
    public Tensor softmax(Tensor x) {
        int dim = x.dim(-1), rows = (int) (x.numel() / dim);
        double[] a = d(x), o = new double[a.length];
        for (int r = 0; r < rows; r++) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int i = 0; i < dim; i++) max = Math.max(max, a[r * dim + i]);
            for (int i = 0; i < dim; i++) sum += o[r * dim + i] = Math.exp(a[r * dim + i] - max);
            for (int i = 0; i < dim; i++) o[r * dim + i] /= sum;
        }
        return f64(o, x.shape());
    }

    private interface Fn { double apply(double v); }

    private static Tensor map(Tensor x, Fn f) {
        double[] a = d(x);
        for (int i = 0; i < a.length; i++) a[i] = f.apply(a[i]);
        return f64(a, x.shape());
    }

    @Override public Tensor silu(Tensor x) { return map(x, v -> v / (1 + Math.exp(-v))); }
    @Override public Tensor gelu(Tensor x) { return map(x, v -> 0.5 * v * (1 + Erf.erf(v / Math.sqrt(2)))); }
    @Override public Tensor geluTanh(Tensor x) { return map(x, v -> 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)))); }
    @Override public Tensor quickGelu(Tensor x) { return map(x, v -> v / (1 + Math.exp(-1.702 * v))); }
    @Override public Tensor exp(Tensor x) { return map(x, Math::exp); }
    @Override public Tensor sin(Tensor x) { return map(x, Math::sin); }
    @Override public Tensor cos(Tensor x) { return map(x, Math::cos); }
    @Override public Tensor clamp(Tensor x, float lo, float hi) { return map(x, v -> Math.min(Math.max(v, lo), hi)); }
    @Override public Tensor scale(Tensor x, float s) { return map(x, v -> v * s); }

    private interface Op { double apply(double u, double w); }

    private static Tensor binary(Tensor a, Tensor b, Op f) {
        int[] shape = broadcast(a.shape(), b.shape());
        double[] x = d(a), y = d(b), o = new double[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < o.length; i++) o[i] = f.apply(x[source(i, shape, a.shape())], y[source(i, shape, b.shape())]);
        return f64(o, shape);
    }

    @Override public Tensor add(Tensor a, Tensor b) { return binary(a, b, Double::sum); }
    @Override public Tensor sub(Tensor a, Tensor b) { return binary(a, b, (u, w) -> u - w); }
    @Override public Tensor mul(Tensor a, Tensor b) { return binary(a, b, (u, w) -> u * w); }

    @Override
    public Tensor concat(int dim, Tensor... xs) {
        int rank = xs[0].rank(), dd = dim < 0 ? dim + rank : dim;
        int[] shape = xs[0].shape();
        shape[dd] = 0;
        for (Tensor t : xs) shape[dd] += t.dim(dd);
        int outer = 1, inner = 1;
        for (int i = 0; i < dd; i++) outer *= shape[i];
        for (int i = dd + 1; i < rank; i++) inner *= shape[i];
        double[] o = new double[Math.toIntExact(Tensor.numel(shape))];
        int at = 0;
        for (Tensor t : xs) {
            double[] a = d(t);
            int len = t.dim(dd) * inner;
            for (int p = 0; p < outer; p++) System.arraycopy(a, p * len, o, p * shape[dd] * inner + at, len);
            at += len;
        }
        return f64(o, shape);
    }

    @Override
    public Tensor embedding(Tensor table, Tensor ids) {
        long[] idx = ids.toLongArray();
        int dim = table.dim(1);
        double[] t = d(table), o = new double[idx.length * dim];
        for (int i = 0; i < idx.length; i++) System.arraycopy(t, (int) idx[i] * dim, o, i * dim, dim);
        int[] shape = Arrays.copyOf(ids.shape(), ids.rank() + 1);
        shape[ids.rank()] = dim;
        return f64(o, shape);
    }

    @Override
    public Tensor upsampleNearest2x(Tensor x) {
        int[] s = x.shape();
        int r = s.length, h = s[r - 2], w = s[r - 1], planes = (int) (x.numel() / ((long) h * w));
        double[] a = d(x), o = new double[a.length * 4];
        for (int p = 0; p < planes; p++)
            for (int y = 0; y < 2 * h; y++)
                for (int i = 0; i < 2 * w; i++) o[(p * 2 * h + y) * 2 * w + i] = a[(p * h + y / 2) * w + i / 2];
        s[r - 2] = 2 * h;
        s[r - 1] = 2 * w;
        return f64(o, s);
    }

    @Override
    public Tensor timestepEmbedding(Tensor timesteps, int dim, boolean flipSinToCos, float downscaleFreqShift, float scale, float maxPeriod) {
        double[] t = d(timesteps);
        int half = dim / 2;
        double[] o = new double[t.length * dim];
        for (int r = 0; r < t.length; r++)
            for (int i = 0; i < half; i++) {
                double arg = scale * t[r] * Math.exp(-Math.log(maxPeriod) * i / (half - downscaleFreqShift));
                o[r * dim + i] = flipSinToCos ? Math.cos(arg) : Math.sin(arg);
                o[r * dim + half + i] = flipSinToCos ? Math.sin(arg) : Math.cos(arg);
            }
        return f64(o, t.length, dim);
    }

    @Override public Tensor contiguous(Tensor x) { return f64(d(x), x.shape()); }

    static int[] broadcast(int[] a, int[] b) {
        int r = Math.max(a.length, b.length);
        int[] out = new int[r];
        for (int i = 0; i < r; i++) {
            int da = i < r - a.length ? 1 : a[i - (r - a.length)], db = i < r - b.length ? 1 : b[i - (r - b.length)];
            if (da != db && da != 1 && db != 1) throw new IllegalArgumentException("shapes do not broadcast: " + Arrays.toString(a) + ", " + Arrays.toString(b));
            out[i] = Math.max(da, db);
        }
        return out;
    }

    /** The row-major index into a tensor of {@code shape} that element {@code flat} of the broadcast {@code out} reads. */
    static int source(int flat, int[] out, int[] shape) {
        int idx = 0, mul = 1;
        for (int i = out.length - 1, j = shape.length - 1; i >= 0 && j >= 0; i--, j--) {
            int coord = flat % out[i];
            flat /= out[i];
            if (shape[j] != 1) idx += coord * mul;
            mul *= shape[j];
        }
        return idx;
    }
}
