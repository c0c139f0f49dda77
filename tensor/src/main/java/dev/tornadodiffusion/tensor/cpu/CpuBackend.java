package dev.tornadodiffusion.tensor.cpu;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.Arrays;

/** Eager execution on all cores. Every op returns a new dense F32 tensor. */
public final class CpuBackend implements Backend {

    /** Refuses at once, naming the flag, when the JVM lacks the Vector API (else the first kernel fails with NoClassDefFoundError). */
    public CpuBackend() {
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty())
            throw new IllegalStateException("the CPU kernels need the Vector API: start java with --add-modules=jdk.incubator.vector");
    }

    @Override public String name() { return "cpu"; }

    // ---- matrix products

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        if (a.rank() < 2 || b.rank() < 2) throw new IllegalArgumentException("matmul needs rank >= 2: " + a + " @ " + b);
        int m = a.dim(-2), k = a.dim(-1), n = b.dim(-1);
        if (b.dim(-2) != k) throw new IllegalArgumentException("matmul shapes " + Arrays.toString(a.shape()) + " @ " + Arrays.toString(b.shape()));
        int[] batch = Backend.broadcastShape(Arrays.copyOf(a.shape(), a.rank() - 2), Arrays.copyOf(b.shape(), b.rank() - 2));
        int[] outShape = Arrays.copyOf(batch, batch.length + 2);
        outShape[batch.length] = m;
        outShape[batch.length + 1] = n;
        Tensor out = Tensor.zeros(outShape);
        float[] c = out.array();
        int batches = (int) Tensor.numel(batch);
        // Many small products (attention scores per head): one per task, each GEMM then runs on its task's thread.
        int grain = batches >= 2 * Parallel.THREADS ? 1 : batches;
        Parallel.forRange(batches, grain, (b0, b1) -> {
            for (int bi = b0; bi < b1; bi++)
                Gemm.gemm(Broadcast.matrix(a, batch, bi), Broadcast.matrix(b, batch, bi), c, bi * m * n, n, false);
        });
        return out;
    }

    @Override
    public Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        int in = x.dim(-1), outF = weight.dim(0);
        if (weight.dim(1) != in) throw new IllegalArgumentException("linear: input " + Arrays.toString(x.shape()) + " vs weight " + Arrays.toString(weight.shape()));
        int rows = (int) (x.numel() / in);
        int[] outShape = x.shape();
        outShape[outShape.length - 1] = outF;
        Tensor out = Tensor.zeros(outShape);
        float[] c = out.array();
        if (bias != null) {
            float[] bv = bias.contiguousF32().array();
            for (int r = 0; r < rows; r++) System.arraycopy(bv, 0, c, r * outF, outF);
        }
        Gemm.gemm(x.reshape(rows, in), weight.transpose(0, 1), c, 0, outF, bias != null);
        return out;
    }

    @Override
    public Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int stride, int padding, int groups) {
        return Conv2d.forward(x, weight, bias, stride, padding, groups);
    }

    @Override
    public Tensor pad2d(Tensor x, int left, int right, int top, int bottom) {
        int[] s = x.shape();
        int r = s.length, h = s[r - 2], w = s[r - 1];
        int oh = h + top + bottom, ow = w + left + right;
        int planes = (int) (x.numel() / ((long) h * w));
        float[] src = x.contiguousF32().array();
        s[r - 2] = oh;
        s[r - 1] = ow;
        Tensor out = Tensor.zeros(s);
        float[] dst = out.array();
        Parallel.forRange(planes, (p0, p1) -> {
            for (int p = p0; p < p1; p++)
                for (int y = 0; y < h; y++)
                    System.arraycopy(src, (p * h + y) * w, dst, (p * oh + y + top) * ow + left, w);
        });
        return out;
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, boolean causal) {
        return Attention.forward(q, k, v, heads, causal);
    }

    // ---- normalisation

    @Override
    public Tensor groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, float eps, boolean silu) {
        return Norms.groupNorm(x, groups, weight, bias, eps, silu);
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, float eps) {
        return Norms.layerNorm(x, weight, bias, eps);
    }

    @Override
    public Tensor softmax(Tensor x) {
        return Norms.softmax(x);
    }

    // ---- element-wise

    @Override public Tensor silu(Tensor x) { return Elementwise.map(x, Elementwise.Unary.SILU, 0f); }
    @Override public Tensor gelu(Tensor x) { return Elementwise.gelu(x, false); }
    @Override public Tensor geluTanh(Tensor x) { return Elementwise.gelu(x, true); }
    @Override public Tensor quickGelu(Tensor x) { return Elementwise.map(x, Elementwise.Unary.QUICK_GELU, 0f); }
    @Override public Tensor exp(Tensor x) { return Elementwise.mapScalar(x, Math::exp); }
    @Override public Tensor sin(Tensor x) { return Elementwise.mapScalar(x, Math::sin); }
    @Override public Tensor cos(Tensor x) { return Elementwise.mapScalar(x, Math::cos); }
    @Override public Tensor clamp(Tensor x, float lo, float hi) { return Elementwise.clamp(x, lo, hi); }
    @Override public Tensor add(Tensor a, Tensor b) { return Elementwise.binary(a, b, Elementwise.Binary.ADD); }
    @Override public Tensor sub(Tensor a, Tensor b) { return Elementwise.binary(a, b, Elementwise.Binary.SUB); }
    @Override public Tensor mul(Tensor a, Tensor b) { return Elementwise.binary(a, b, Elementwise.Binary.MUL); }
    @Override public Tensor scale(Tensor x, float s) { return Elementwise.map(x, Elementwise.Unary.SCALE, s); }

    // ---- layout

    @Override
    public Tensor embedding(Tensor table, Tensor ids) {
        if (table.rank() != 2) throw new IllegalArgumentException("embedding table must be [V, D], got " + table);
        int v = table.dim(0), d = table.dim(1);
        long[] idx = ids.toLongArray();
        int[] shape = Arrays.copyOf(ids.shape(), ids.rank() + 1);
        shape[ids.rank()] = d;
        Tensor out = Tensor.zeros(shape);
        float[] o = out.array();
        for (int i = 0; i < idx.length; i++) {
            if (idx[i] < 0 || idx[i] >= v) throw new IllegalArgumentException("embedding id " + idx[i] + " outside the table's " + v + " rows");
            System.arraycopy(table.narrow(0, (int) idx[i], 1).contiguousF32().array(), 0, o, i * d, d);
        }
        return out;
    }

    @Override
    public Tensor concat(int dim, Tensor... xs) {
        int rank = xs[0].rank();
        int d = dim < 0 ? dim + rank : dim;
        int[] shape = xs[0].shape();
        int total = 0;
        for (Tensor t : xs) {
            int[] s = t.shape();
            if (s.length != rank) throw new IllegalArgumentException("concat of different ranks");
            for (int i = 0; i < rank; i++)
                if (i != d && s[i] != shape[i]) throw new IllegalArgumentException("concat along " + d + " of " + Arrays.toString(shape) + " and " + Arrays.toString(s));
            total += s[d];
        }
        shape[d] = total;
        Tensor out = Tensor.zeros(shape);
        float[] dst = out.array();
        int outer = 1, inner = 1;
        for (int i = 0; i < d; i++) outer *= shape[i];
        for (int i = d + 1; i < rank; i++) inner *= shape[i];
        int at = 0;
        for (Tensor t : xs) {
            float[] src = t.contiguousF32().array();
            int len = t.dim(d) * inner;
            for (int o = 0; o < outer; o++) System.arraycopy(src, o * len, dst, o * total * inner + at, len);
            at += len;
        }
        return out;
    }

    @Override
    public Tensor upsampleNearest2x(Tensor x) {
        int[] s = x.shape();
        int r = s.length, h = s[r - 2], w = s[r - 1];
        int planes = (int) (x.numel() / ((long) h * w));
        float[] src = x.contiguousF32().array();
        s[r - 2] = 2 * h;
        s[r - 1] = 2 * w;
        Tensor out = Tensor.zeros(s);
        float[] dst = out.array();
        Parallel.forRange(planes, (p0, p1) -> {
            for (int p = p0; p < p1; p++)
                for (int y = 0; y < 2 * h; y++) {
                    int si = (p * h + y / 2) * w, di = (p * 2 * h + y) * 2 * w;
                    for (int xx = 0; xx < 2 * w; xx++) dst[di + xx] = src[si + xx / 2];
                }
        });
        return out;
    }

    @Override
    public Tensor timestepEmbedding(Tensor timesteps, int dim, boolean flipSinToCos, float downscaleFreqShift, float scale, float maxPeriod) {
        int n = (int) timesteps.numel(), half = dim / 2;
        float[] freqs = Backend.timestepFrequencies(dim, downscaleFreqShift, maxPeriod);
        Tensor out = Tensor.zeros(n, dim);
        float[] o = out.array();
        for (int r = 0; r < n; r++) {
            float t = timesteps.getFlat(r);
            for (int i = 0; i < half; i++) {
                float arg = scale * (t * freqs[i]);
                float sin = (float) Math.sin(arg), cos = (float) Math.cos(arg);
                o[r * dim + i] = flipSinToCos ? cos : sin;
                o[r * dim + half + i] = flipSinToCos ? sin : cos;
            }
        }
        return out;
    }
}
