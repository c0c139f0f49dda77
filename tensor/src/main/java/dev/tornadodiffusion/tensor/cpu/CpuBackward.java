package dev.tornadodiffusion.tensor.cpu;

import dev.tornadodiffusion.tensor.Backward;
import dev.tornadodiffusion.tensor.Tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import java.util.Arrays;

/**
 * The backward ops on all cores. Products go through the packed {@link Gemm} (convolutions as im2col GEMMs),
 * attention's run as vector axpy and dot products per query, recomputing its scores; every reduction has a fixed order that does not depend on the thread count:
 * parallel work is split by what it writes, and partial sums over fixed-size chunks are added in chunk order.
 */
public final class CpuBackward implements Backward {
    /** Elements per parallel task of element-wise work. */
    private static final int GRAIN = 1 << 14;
    /** Rows per partial sum of a parameter gradient (layer norm): fixed, so the sum's order is too. */
    private static final int ROWS_PER_PARTIAL = 64;
    /** Floats of im2col matrix built at once by a convolution's backward pass. */
    private static final int COLUMNS = 1 << 22;

    // ---- element-wise

    @Override
    public Tensor activationBackward(Activation f, Tensor x, Tensor dy) {
        requireSameShape(x, dy, "activation backward");
        float[] xs = x.contiguousF32().array(), g = dy.contiguousF32().array();
        Tensor out = Tensor.zeros(x.shape());
        float[] dx = out.array();
        Parallel.forRange(Gemm.ceilDiv(xs.length, GRAIN), (c0, c1) -> {
            int from = c0 * GRAIN, to = Math.min(xs.length, c1 * GRAIN);
            switch (f) {
                case SILU, QUICK_GELU -> sigmoidGated(f == Activation.SILU ? 1f : 1.702f, xs, g, dx, from, to);
                case GELU -> gelu(xs, g, dx, from, to);
                default -> { for (int i = from; i < to; i++) dx[i] = (float) (g[i] * derivative(f, xs[i])); }
            }
        });
        return out;
    }

    /** dx = dy * d/dx (x sigmoid(a x)) = dy * s (1 + a x (1 - s)), s = sigmoid(a x): SiLU (a = 1) and QuickGELU (a = 1.702). */
    private static void sigmoidGated(float a, float[] x, float[] g, float[] dx, int from, int to) {
        for (int i = from; i < to; i += Gemm.V) {
            VectorMask<Float> m = Gemm.S.indexInRange(i, to);
            FloatVector ax = FloatVector.fromArray(Gemm.S, x, i, m).mul(a);
            FloatVector sg = VectorMath.exp(ax.neg()).add(1f), s = FloatVector.broadcast(Gemm.S, 1f).div(sg);
            FloatVector d = s.mul(ax.mul(s.neg().add(1f)).add(1f));
            d.mul(FloatVector.fromArray(Gemm.S, g, i, m)).intoArray(dx, i, m);
        }
    }

    /** dx = dy * (Phi(x) + x phi(x)) for the exact GELU, in float lanes as the forward pass. */
    private static void gelu(float[] x, float[] g, float[] dx, int from, int to) {
        for (int i = from; i < to; i += Gemm.S.length()) {
            VectorMask<Float> m = Gemm.S.indexInRange(i, to);
            VectorMath.geluGrad(FloatVector.fromArray(Gemm.S, x, i, m)).mul(FloatVector.fromArray(Gemm.S, g, i, m)).intoArray(dx, i, m);
        }
    }

    private static final double SQRT_HALF = Math.sqrt(0.5), INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI), SQRT_2_PI = Math.sqrt(2 / Math.PI);

    /** f'(x) in double. */
    static double derivative(Activation f, double x) {
        return switch (f) {
            case SILU -> { double s = 1 / (1 + Math.exp(-x)); yield s * (1 + x * (1 - s)); }
            case GELU -> 0.5 * (1 + Erf.erf(x * SQRT_HALF)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
            case GELU_TANH -> {
                double t = Math.tanh(SQRT_2_PI * (x + 0.044715 * x * x * x));
                yield 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_PI * (1 + 3 * 0.044715 * x * x);
            }
            case QUICK_GELU -> { double s = 1 / (1 + Math.exp(-1.702 * x)); yield s + 1.702 * x * s * (1 - s); }
            case SIN -> Math.cos(x);
            case COS -> -Math.sin(x);
            case ABS -> Math.signum(x);
        };
    }

    @Override
    public Tensor clampBackward(Tensor x, float lo, float hi, Tensor dy) {
        requireSameShape(x, dy, "clamp backward");
        float[] xs = x.contiguousF32().array(), g = dy.contiguousF32().array();
        Tensor out = Tensor.zeros(x.shape());
        float[] dx = out.array();
        for (int i = 0; i < xs.length; i++) dx[i] = xs[i] >= lo && xs[i] <= hi ? g[i] : 0f;
        return out;
    }

    @Override
    public Tensor sumTo(Tensor dy, int... shape) {
        int[] full = dy.shape();
        if (!Arrays.equals(dev.tornadodiffusion.tensor.Backend.broadcastShape(full, shape), full))
            throw new IllegalArgumentException("sumTo: " + Arrays.toString(shape) + " does not broadcast to " + Arrays.toString(full));
        float[] g = dy.contiguousF32().array();
        Tensor out = Tensor.zeros(shape);
        float[] o = out.array();
        if (Arrays.equals(full, shape)) {
            System.arraycopy(g, 0, o, 0, g.length);
            return out;
        }
        // Walk dy in order, adding each element where it came from: rows over the merged innermost dimensions.
        long[][] st = Broadcast.collapse(full, Broadcast.strides(out, full), Tensor.contiguousStrides(full));
        long[] dims = st[0], so = st[1];
        int r = dims.length, last = (int) dims[r - 1], step = (int) so[r - 1];
        double[] acc = new double[o.length];
        for (int row = 0, rows = g.length / last; row < rows; row++) {
            long io = 0, rem = row;
            for (int d = r - 2; d >= 0; d--) { io += rem % dims[d] * so[d]; rem /= dims[d]; }
            int base = row * last;
            if (step == 0) {
                double s = 0;
                for (int i = 0; i < last; i++) s += g[base + i];
                acc[(int) io] += s;
            } else {
                for (int i = 0; i < last; i++) acc[(int) io + i * step] += g[base + i];
            }
        }
        for (int i = 0; i < o.length; i++) o[i] = (float) acc[i];
        return out;
    }

    @Override
    public Tensor sum(Tensor x) {
        float[] a = x.contiguousF32().array();
        return Tensor.of(new float[]{(float) Norms.sum(a, 0, a.length, 0f)});
    }

    @Override
    public Tensor softmaxBackward(Tensor y, Tensor dy) {
        requireSameShape(y, dy, "softmax backward");
        int d = y.dim(-1), rows = (int) (y.numel() / d);
        float[] ys = y.contiguousF32().array(), g = dy.contiguousF32().array();
        Tensor out = Tensor.zeros(y.shape());
        float[] dx = out.array();
        Parallel.forRange(rows, 16, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int o = r * d;
                double dot = 0;
                for (int i = 0; i < d; i++) dot += (double) g[o + i] * ys[o + i];
                for (int i = 0; i < d; i++) dx[o + i] = (float) (ys[o + i] * (g[o + i] - dot));
            }
        });
        return out;
    }

    // ---- convolution

    @Override
    public Tensor conv2dBackwardInput(Tensor weight, Tensor dy, int[] inputShape, int stride, int padding, int groups) {
        int n = inputShape[0], c = inputShape[1], h = inputShape[2], w = inputShape[3];
        int oc = weight.dim(0), icg = weight.dim(1), kh = weight.dim(2), kw = weight.dim(3), oh = dy.dim(2), ow = dy.dim(3);
        int ocg = oc / groups, depth = icg * kh * kw, pix = oh * ow;
        checkConv(inputShape, weight.shape(), dy, stride, padding, groups);
        float[] g = dy.contiguousF32().array();
        Tensor out = Tensor.zeros(n, c, h, w);
        float[] dx = out.array();
        if (icg == 1 && ocg == 1) {   // depthwise: each plane from its own output plane
            float[] wt = weight.contiguousF32().array();
            Parallel.forRange(n * c, (p0, p1) -> {
                for (int plane = p0; plane < p1; plane++) {
                    int ch = plane % c;
                    for (int ky = 0; ky < kh; ky++)
                        for (int kx = 0; kx < kw; kx++)
                            addTap(g, plane * pix, wt[(ch * kh + ky) * kw + kx], dx, plane * h * w, h, w, oh, ow, ky, kx, stride, padding);
                }
            });
            return out;
        }
        // Per group and chunk of images: dcol [depth, images*pix] = W_g^T · dy_g, then each column added back where im2col read it.
        int chunk = Math.max(1, Math.min(n, COLUMNS / Math.max(1, depth * pix)));
        float[] dyT = new float[ocg * chunk * pix], dcol = new float[depth * chunk * pix];
        Tensor w2 = weight.reshape(oc, depth);
        for (int g0 = 0; g0 < groups; g0++) {
            int grp = g0;
            for (int b0 = 0; b0 < n; b0 += chunk) {
                int images = Math.min(chunk, n - b0), lanes = images * pix, first = b0;
                gatherChannels(g, oc, pix, grp * ocg, ocg, b0, images, dyT);
                Gemm.gemm(w2.narrow(0, grp * ocg, ocg).transpose(0, 1), Tensor.of(dyT, ocg * chunk * pix).narrow(0, 0, ocg * lanes).reshape(ocg, lanes),
                        dcol, 0, lanes, false);
                Parallel.forRange(icg, (c0, c1) -> {
                    for (int ci = c0; ci < c1; ci++)
                        for (int ky = 0; ky < kh; ky++)
                            for (int kx = 0; kx < kw; kx++)
                                for (int b = 0; b < images; b++)
                                    addTap(dcol, ((ci * kh + ky) * kw + kx) * lanes + b * pix, 1f, dx,
                                            ((first + b) * c + grp * icg + ci) * h * w, h, w, oh, ow, ky, kx, stride, padding);
                });
            }
        }
        return out;
    }

    /** dx plane += s * (the output plane at {@code src}) placed where tap (ky, kx) read the input. */
    private static void addTap(float[] src, int so, float s, float[] dx, int xo, int h, int w, int oh, int ow, int ky, int kx, int stride, int pad) {
        // ix = ox * stride - pad + kx lies in [0, w) for ox in [lo, hi)
        int lo = Math.max(0, Gemm.ceilDiv(pad - kx, stride)), hi = Math.min(ow, Math.floorDiv(w - 1 + pad - kx, stride) + 1);
        for (int oy = 0; oy < oh; oy++) {
            int iy = oy * stride - pad + ky;
            if (iy < 0 || iy >= h || lo >= hi) continue;
            int row = xo + iy * w - pad + kx, srow = so + oy * ow;
            if (stride == 1) for (int ox = lo; ox < hi; ox++) dx[row + ox] += s * src[srow + ox];
            else for (int ox = lo; ox < hi; ox++) dx[row + ox * stride] += s * src[srow + ox];
        }
    }

    /** dst [count, images*pix] = channels [first, first+count) of images [b0, b0+images) of g [N, C, pix]. */
    private static void gatherChannels(float[] g, int c, int pix, int first, int count, int b0, int images, float[] dst) {
        for (int ch = 0; ch < count; ch++)
            for (int b = 0; b < images; b++)
                System.arraycopy(g, ((b0 + b) * c + first + ch) * pix, dst, (ch * images + b) * pix, pix);
    }

    @Override
    public Tensor conv2dBackwardWeight(Tensor x, int[] weightShape, Tensor dy, int stride, int padding, int groups) {
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        int oc = weightShape[0], icg = weightShape[1], kh = weightShape[2], kw = weightShape[3], oh = dy.dim(2), ow = dy.dim(3);
        int ocg = oc / groups, depth = icg * kh * kw, pix = oh * ow;
        checkConv(x.shape(), weightShape, dy, stride, padding, groups);
        float[] in = x.contiguousF32().array(), g = dy.contiguousF32().array();
        Tensor out = Tensor.zeros(weightShape);
        float[] dw = out.array();
        if (icg == 1 && ocg == 1) {   // depthwise: per channel, images in order
            int taps = kh * kw;
            Parallel.forRange(c, (c0, c1) -> {
                for (int ch = c0; ch < c1; ch++)
                    for (int t = 0; t < taps; t++) {
                        double s = 0;
                        for (int b = 0; b < n; b++) s += tapDot(g, (b * c + ch) * pix, in, (b * c + ch) * h * w, h, w, oh, ow, t / kw, t % kw, stride, padding);
                        dw[ch * taps + t] = (float) s;
                    }
            });
            return out;
        }
        // Per group and chunk of images: dW_g^T [depth, ocg] += im2col [depth, images*pix] . dy_g^T; the im2col rows are
        // the GEMM's A, read in place, so only dy (ocg wide) is packed.
        int chunk = Math.max(1, Math.min(n, COLUMNS / Math.max(1, depth * pix)));
        float[] dyT = new float[ocg * chunk * pix], col = new float[depth * chunk * pix], dwT = new float[depth * ocg];
        for (int grp = 0; grp < groups; grp++) {
            Im2col cols = new Im2col(in, c, h, w, grp * icg, kh, kw, stride, padding);
            for (int b0 = 0; b0 < n; b0 += chunk) {
                int images = Math.min(chunk, n - b0), lanes = images * pix, lane0 = b0 * pix;
                gatherChannels(g, oc, pix, grp * ocg, ocg, b0, images, dyT);
                Parallel.forRange(depth, 8, (d0, d1) -> cols.pack(lane0, lanes, d0, d1 - d0, col, d0 * lanes, lanes));
                Gemm.gemm(Tensor.of(col, col.length).narrow(0, 0, depth * lanes).reshape(depth, lanes),
                        Tensor.of(dyT, dyT.length).narrow(0, 0, ocg * lanes).reshape(ocg, lanes).transpose(0, 1),
                        dwT, 0, ocg, b0 > 0);
            }
            for (int o = 0; o < ocg; o++)
                for (int dd = 0; dd < depth; dd++) dw[(grp * ocg + o) * depth + dd] = dwT[dd * ocg + o];
        }
        return out;
    }

    /** sum over output pixels of dy * (the input pixel tap (ky, kx) read). */
    private static double tapDot(float[] g, int go, float[] in, int xo, int h, int w, int oh, int ow, int ky, int kx, int stride, int pad) {
        double s = 0;
        for (int oy = 0; oy < oh; oy++) {
            int iy = oy * stride - pad + ky;
            if (iy < 0 || iy >= h) continue;
            for (int ox = 0; ox < ow; ox++) {
                int ix = ox * stride - pad + kx;
                if (ix >= 0 && ix < w) s += (double) g[go + oy * ow + ox] * in[xo + iy * w + ix];
            }
        }
        return s;
    }

    private static void checkConv(int[] xShape, int[] wShape, Tensor dy, int stride, int padding, int groups) {
        int oh = (xShape[2] + 2 * padding - wShape[2]) / stride + 1, ow = (xShape[3] + 2 * padding - wShape[3]) / stride + 1;
        if (dy.rank() != 4 || dy.dim(0) != xShape[0] || dy.dim(1) != wShape[0] || dy.dim(2) != oh || dy.dim(3) != ow || wShape[1] * groups != xShape[1])
            throw new IllegalArgumentException("conv2d backward: dy " + Arrays.toString(dy.shape()) + " does not match input " + Arrays.toString(xShape)
                    + ", weight " + Arrays.toString(wShape) + ", stride " + stride + ", padding " + padding + ", groups " + groups);
    }

    // ---- attention

    @Override
    public Tensor[] attentionBackward(Tensor q, Tensor k, Tensor v, Tensor out, int heads, boolean causal, Tensor dy) {
        int b = q.dim(0), nq = q.dim(1), nk = k.dim(1), dq = q.dim(2) / heads, dv = v.dim(2) / heads, hq = heads * dq, hv = heads * dv;
        requireSameShape(out, dy, "attention backward");
        float[] qa = q.contiguousF32().array(), ka = k.contiguousF32().array(), va = v.contiguousF32().array();
        float[] oa = out.contiguousF32().array(), ga = dy.contiguousF32().array();
        Tensor gq = Tensor.zeros(b, nq, hq), gk = Tensor.zeros(b, nk, hq), gv = Tensor.zeros(b, nk, hv);
        float[] dQ = gq.array(), dK = gk.array(), dV = gv.array();
        float scale = (float) (1.0 / Math.sqrt(dq));
        // Each (batch, head) writes its own columns of dq, dk, dv: tasks never share an output element. Keys are the
        // vector lanes: K, V and their gradients are held transposed ([dim][key]), so every step is an axpy or a dot.
        Parallel.forRange(b * heads, (r0, r1) -> {
            float[] kT = new float[dq * nk], vT = new float[dv * nk], dkT = new float[dq * nk], dvT = new float[dv * nk];
            float[] p = new float[nk], ds = new float[nk];
            for (int r = r0; r < r1; r++) {
                int bi = r / heads, h = r % heads;
                Arrays.fill(dkT, 0f);
                Arrays.fill(dvT, 0f);
                for (int j = 0; j < nk; j++) {
                    for (int c = 0; c < dq; c++) kT[c * nk + j] = ka[(bi * nk + j) * hq + h * dq + c];
                    for (int c = 0; c < dv; c++) vT[c * nk + j] = va[(bi * nk + j) * hv + h * dv + c];
                }
                for (int i = 0; i < nq; i++) {
                    int keys = causal ? Math.min(nk, i + 1) : nk, qi = (bi * nq + i) * hq + h * dq, oi = (bi * nq + i) * hv + h * dv;
                    if (keys == 0) continue;
                    // 1. P = softmax(scale q K^T), recomputed for this query
                    Arrays.fill(p, 0, keys, 0f);
                    for (int c = 0; c < dq; c++) axpy(qa[qi + c], kT, c * nk, p, 0, keys);
                    softmax(p, keys, scale);
                    // 2. dP = dO V^T, delta = dO . O, dS = P (dP - delta) scale
                    double delta = 0;
                    for (int c = 0; c < dv; c++) delta += (double) ga[oi + c] * oa[oi + c];
                    Arrays.fill(ds, 0, keys, 0f);
                    for (int c = 0; c < dv; c++) axpy(ga[oi + c], vT, c * nk, ds, 0, keys);
                    scoreGradient(p, ds, keys, (float) delta, scale);
                    // 3. dV += P^T dO, dK += dS^T q, dQ = dS K
                    for (int c = 0; c < dv; c++) axpy(ga[oi + c], p, 0, dvT, c * nk, keys);
                    for (int c = 0; c < dq; c++) {
                        axpy(qa[qi + c], ds, 0, dkT, c * nk, keys);
                        dQ[qi + c] = (float) dot(ds, kT, c * nk, keys);
                    }
                }
                for (int j = 0; j < nk; j++) {
                    for (int c = 0; c < dq; c++) dK[(bi * nk + j) * hq + h * dq + c] = dkT[c * nk + j];
                    for (int c = 0; c < dv; c++) dV[(bi * nk + j) * hv + h * dv + c] = dvT[c * nk + j];
                }
            }
        });
        return new Tensor[]{gq, gk, gv};
    }

    /** s[0..n) = softmax(scale * s), vectorized: the exponentials as the forward pass computes them. */
    private static void softmax(float[] s, int n, float scale) {
        FloatVector vmax = FloatVector.broadcast(Gemm.S, Float.NEGATIVE_INFINITY);
        for (int i = 0; i < n; i += Gemm.V) {
            VectorMask<Float> m = Gemm.S.indexInRange(i, n);
            vmax = vmax.lanewise(VectorOperators.MAX, FloatVector.fromArray(Gemm.S, s, i, m).mul(scale), m);
        }
        FloatVector max = FloatVector.broadcast(Gemm.S, vmax.reduceLanes(VectorOperators.MAX)), sum = FloatVector.zero(Gemm.S);
        for (int i = 0; i < n; i += Gemm.V) {
            VectorMask<Float> m = Gemm.S.indexInRange(i, n);
            FloatVector e = VectorMath.exp(FloatVector.fromArray(Gemm.S, s, i, m).mul(scale).sub(max));
            e.intoArray(s, i, m);
            sum = sum.add(e, m);
        }
        float inv = (float) (1 / VectorMath.sum(sum));
        for (int i = 0; i < n; i += Gemm.V) {
            VectorMask<Float> m = Gemm.S.indexInRange(i, n);
            FloatVector.fromArray(Gemm.S, s, i, m).mul(inv).intoArray(s, i, m);
        }
    }

    /** ds[0..n) = p * (ds - delta) * scale. */
    private static void scoreGradient(float[] p, float[] ds, int n, float delta, float scale) {
        for (int i = 0; i < n; i += Gemm.V) {
            VectorMask<Float> m = Gemm.S.indexInRange(i, n);
            FloatVector.fromArray(Gemm.S, ds, i, m).sub(delta).mul(FloatVector.fromArray(Gemm.S, p, i, m)).mul(scale).intoArray(ds, i, m);
        }
    }

    /** y[yo..yo+n) += a * x[xo..xo+n). */
    private static void axpy(float a, float[] x, int xo, float[] y, int yo, int n) {
        FloatVector va = FloatVector.broadcast(Gemm.S, a);
        int i = 0;
        for (; i <= n - Gemm.V; i += Gemm.V)
            FloatVector.fromArray(Gemm.S, x, xo + i).fma(va, FloatVector.fromArray(Gemm.S, y, yo + i)).intoArray(y, yo + i);
        for (; i < n; i++) y[yo + i] = Math.fma(a, x[xo + i], y[yo + i]);
    }

    /** sum of x[0..n) * y[yo..yo+n): lane partial sums, added in lane order. */
    private static double dot(float[] x, float[] y, int yo, int n) {
        FloatVector acc = FloatVector.zero(Gemm.S);
        int i = 0;
        for (; i <= n - Gemm.V; i += Gemm.V) acc = FloatVector.fromArray(Gemm.S, x, i).fma(FloatVector.fromArray(Gemm.S, y, yo + i), acc);
        double s = VectorMath.sum(acc);
        for (; i < n; i++) s += (double) x[i] * y[yo + i];
        return s;
    }

    // ---- normalisation

    @Override
    public Tensor[] groupNormBackward(Tensor x, int groups, Tensor weight, Tensor bias, float eps, boolean silu, Tensor dy) {
        requireSameShape(x, dy, "group norm backward");
        int n = x.dim(0), c = x.dim(1), spatial = (int) (x.numel() / ((long) n * c)), cg = c / groups, len = cg * spatial;
        float[] xs = x.contiguousF32().array(), g = dy.contiguousF32().array();
        float[] gamma = weight == null ? null : weight.contiguousF32().array(), beta = bias == null ? null : bias.contiguousF32().array();
        Tensor out = Tensor.zeros(x.shape());
        float[] dx = out.array();
        double[] dGamma = new double[n * c], dBeta = new double[n * c];   // per image, summed over images in order below
        Parallel.forRange(n * groups, (g0, g1) -> {
            for (int ng = g0; ng < g1; ng++) {
                int base = ng * len, grp = ng % groups, img = ng / groups;
                double[] stats = meanRstd(xs, base, len, eps);
                double mean = stats[0], rstd = stats[1], sum1 = 0, sum2 = 0;
                // dx holds dL/dxhat (times gamma) after this pass; per channel {d gamma, d beta, sum dxhat, sum dxhat xhat}.
                double[] sums = new double[4];
                for (int ci = 0; ci < cg; ci++) {
                    int ch = grp * cg + ci;
                    channelGradient(xs, g, dx, base + ci * spatial, spatial, (float) mean, (float) rstd,
                            gamma == null ? 1f : gamma[ch], beta == null ? 0f : beta[ch], silu, sums);
                    dGamma[img * c + ch] = sums[0];
                    dBeta[img * c + ch] = sums[1];
                    sum1 += sums[2];
                    sum2 += sums[3];
                }
                float m1 = (float) (sum1 / len), m2 = (float) (sum2 / len), mf = (float) mean, rf = (float) rstd;
                for (int i = base; i < base + len; i += Gemm.V) {
                    VectorMask<Float> m = Gemm.S.indexInRange(i, base + len);
                    FloatVector xh = FloatVector.fromArray(Gemm.S, xs, i, m).sub(mf).mul(rf);
                    FloatVector.fromArray(Gemm.S, dx, i, m).sub(m1).sub(xh.mul(m2)).mul(rf).intoArray(dx, i, m);
                }
            }
        });
        return new Tensor[]{out, weight == null ? null : sumRows(dGamma, n, c), bias == null ? null : sumRows(dBeta, n, c)};
    }

    /**
     * One channel of a group norm's backward pass over {@code n} elements at {@code at}: writes gy * gamma (gy = dy, or
     * dy * SiLU'(y) after the fused SiLU) to dx and returns in {@code sums} the channel's sums of gy * xhat, gy,
     * gy * gamma and gy * gamma * xhat (vector lanes, added in lane order).
     */
    private static void channelGradient(float[] x, float[] g, float[] dx, int at, int n, float mean, float rstd, float gamma, float beta,
                                        boolean silu, double[] sums) {
        FloatVector dgm = FloatVector.zero(Gemm.S), dbt = dgm;
        for (int i = at; i < at + n; i += Gemm.V) {
            VectorMask<Float> m = Gemm.S.indexInRange(i, at + n);
            FloatVector xh = FloatVector.fromArray(Gemm.S, x, i, m).sub(mean).mul(rstd), gy = FloatVector.fromArray(Gemm.S, g, i, m);
            if (silu) {
                FloatVector y = xh.mul(gamma).add(beta), s = FloatVector.broadcast(Gemm.S, 1f).div(VectorMath.exp(y.neg()).add(1f));
                gy = gy.mul(s.mul(y.mul(s.neg().add(1f)).add(1f)));
            }
            dgm = dgm.add(gy.mul(xh));   // masked-off lanes load 0, so gy is 0 there
            dbt = dbt.add(gy);
            gy.mul(gamma).intoArray(dx, i, m);
        }
        sums[0] = VectorMath.sum(dgm);
        sums[1] = VectorMath.sum(dbt);
        sums[2] = sums[1] * gamma;
        sums[3] = sums[0] * gamma;
    }

    @Override
    public Tensor[] layerNormBackward(Tensor x, Tensor weight, Tensor bias, float eps, Tensor dy) {
        requireSameShape(x, dy, "layer norm backward");
        int d = x.dim(-1), rows = (int) (x.numel() / d), parts = Gemm.ceilDiv(rows, ROWS_PER_PARTIAL);
        float[] xs = x.contiguousF32().array(), g = dy.contiguousF32().array(), gamma = weight == null ? null : weight.contiguousF32().array();
        Tensor out = Tensor.zeros(x.shape());
        float[] dx = out.array();
        double[] dGamma = new double[parts * d], dBeta = new double[parts * d];
        Parallel.forRange(parts, (p0, p1) -> {
            for (int part = p0; part < p1; part++) {
                for (int r = part * ROWS_PER_PARTIAL, end = Math.min(rows, r + ROWS_PER_PARTIAL); r < end; r++) {
                    int o = r * d;
                    double[] stats = meanRstd(xs, o, d, eps);
                    double mean = stats[0], rstd = stats[1], sum1 = 0, sum2 = 0;
                    for (int i = 0; i < d; i++) {
                        double xh = (xs[o + i] - mean) * rstd, gy = g[o + i];
                        dGamma[part * d + i] += gy * xh;
                        dBeta[part * d + i] += gy;
                        double gx = gamma == null ? gy : gy * gamma[i];
                        sum1 += gx;
                        sum2 += gx * xh;
                    }
                    double m1 = sum1 / d, m2 = sum2 / d;
                    for (int i = 0; i < d; i++) {
                        double gx = gamma == null ? g[o + i] : (double) g[o + i] * gamma[i];
                        dx[o + i] = (float) (rstd * (gx - m1 - (xs[o + i] - mean) * rstd * m2));
                    }
                }
            }
        });
        return new Tensor[]{out, weight == null ? null : sumRows(dGamma, parts, d), bias == null ? null : sumRows(dBeta, parts, d)};
    }

    /** Mean and 1/sqrt(variance + eps) of {@code len} values, two-pass in double. */
    private static double[] meanRstd(float[] a, int at, int len, float eps) {
        double mean = 0, var = 0;
        for (int i = at; i < at + len; i++) mean += a[i];
        mean /= len;
        for (int i = at; i < at + len; i++) { double t = a[i] - mean; var += t * t; }
        return new double[]{mean, 1 / Math.sqrt(var / len + eps)};
    }

    /** Column sums of a [rows, cols] array, rows added in order, as an F32 [cols] tensor. */
    private static Tensor sumRows(double[] a, int rows, int cols) {
        float[] o = new float[cols];
        for (int j = 0; j < cols; j++) {
            double s = 0;
            for (int r = 0; r < rows; r++) s += a[r * cols + j];
            o[j] = (float) s;
        }
        return Tensor.of(o, cols);
    }

    // ---- layout

    @Override
    public Tensor embeddingBackward(Tensor ids, int rows, Tensor dy) {
        long[] idx = ids.toLongArray();
        int d = dy.dim(-1);
        if (dy.numel() != (long) idx.length * d) throw new IllegalArgumentException("embedding backward: dy " + dy + " for " + idx.length + " ids");
        float[] g = dy.contiguousF32().array();
        Tensor out = Tensor.zeros(rows, d);
        float[] o = out.array();
        for (int i = 0; i < idx.length; i++) {
            int row = (int) idx[i] * d;
            for (int j = 0; j < d; j++) o[row + j] += g[i * d + j];
        }
        return out;
    }

    @Override
    public Tensor upsampleNearest2xBackward(Tensor dy) {
        int[] s = dy.shape();
        int r = s.length, h2 = s[r - 2], w2 = s[r - 1];
        if (h2 % 2 != 0 || w2 % 2 != 0) throw new IllegalArgumentException("upsample backward: odd size " + Arrays.toString(s));
        int h = h2 / 2, w = w2 / 2, planes = (int) (dy.numel() / ((long) h2 * w2));
        float[] g = dy.contiguousF32().array();
        s[r - 2] = h;
        s[r - 1] = w;
        Tensor out = Tensor.zeros(s);
        float[] o = out.array();
        Parallel.forRange(planes, (p0, p1) -> {
            for (int p = p0; p < p1; p++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++) {
                        int a = (p * h2 + 2 * y) * w2 + 2 * x;
                        o[(p * h + y) * w + x] = g[a] + g[a + 1] + g[a + w2] + g[a + w2 + 1];
                    }
        });
        return out;
    }

    @Override
    public Tensor timestepEmbeddingBackward(Tensor timesteps, int dim, boolean flipSinToCos, float downscaleFreqShift, float scale, float maxPeriod, Tensor dy) {
        int n = (int) timesteps.numel(), half = dim / 2;
        float negLog = (float) -Math.log(maxPeriod), denom = half - downscaleFreqShift;
        float[] g = dy.contiguousF32().array(), o = new float[n];
        for (int r = 0; r < n; r++) {
            float t = timesteps.getFlat(r);
            double s = 0;
            for (int i = 0; i < half; i++) {
                float f = (float) Math.exp((negLog * i) / denom);
                double arg = scale * (t * f), dSin = scale * f * Math.cos(arg), dCos = -scale * f * Math.sin(arg);
                s += g[r * dim + i] * (flipSinToCos ? dCos : dSin) + g[r * dim + half + i] * (flipSinToCos ? dSin : dCos);
            }
            o[r] = (float) s;
        }
        return Tensor.of(o, timesteps.shape());
    }

    private static void requireSameShape(Tensor x, Tensor dy, String op) {
        if (!x.sameShape(dy)) throw new IllegalArgumentException(op + ": dy " + Arrays.toString(dy.shape()) + " for input " + Arrays.toString(x.shape()));
    }
}
