package dev.tornadodiffusion.tensor.cpu;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import static dev.tornadodiffusion.tensor.cpu.Gemm.S;
import static dev.tornadodiffusion.tensor.cpu.Gemm.V;

/**
 * Activations and broadcasting binary ops, vectorized. One loop per kind of op with a switch inside
 * (a lambda per op would be a megamorphic call that boxes every vector). GELU and tanh-GELU are
 * evaluated in double lanes, like the scalar definitions, so they round once to float.
 */
final class Elementwise {
    private Elementwise() {}

    enum Unary { SILU, QUICK_GELU, SCALE }

    enum Binary { ADD, SUB, MUL }

    private static final VectorSpecies<Double> DS = Erf.DS;
    /** Floats with as many lanes as DS has doubles. */
    private static final VectorSpecies<Float> FS = VectorSpecies.of(float.class, VectorShape.forBitSize(DS.vectorBitSize() / 2));
    private static final int GRAIN = 1 << 14;

    private interface Range { void run(float[] src, float[] dst, int from, int to); }

    /** A new tensor from {@code x}, element ranges filled in parallel. */
    private static Tensor each(Tensor x, Range range) {
        float[] src = x.contiguousF32().array();
        Tensor out = Tensor.zeros(x.shape());
        float[] dst = out.array();
        Parallel.forRange(Gemm.ceilDiv(src.length, GRAIN), (c0, c1) -> range.run(src, dst, c0 * GRAIN, Math.min(src.length, c1 * GRAIN)));
        return out;
    }

    /** Rare element-wise maps (TLD's sinusoidal embedding): scalar Math, which HotSpot keeps identical in every execution mode. */
    static Tensor mapScalar(Tensor x, java.util.function.DoubleUnaryOperator f) {
        float[] src = x.contiguousF32().array();
        Tensor out = Tensor.zeros(x.shape());
        float[] dst = out.array();
        Parallel.forRange(Gemm.ceilDiv(src.length, GRAIN), (c0, c1) -> {
            for (int i = c0 * GRAIN, end = Math.min(src.length, c1 * GRAIN); i < end; i++) dst[i] = (float) f.applyAsDouble(src[i]);
        });
        return out;
    }

    static Tensor clamp(Tensor x, float lo, float hi) {
        return mapScalar(x, v -> Math.min(Math.max(v, lo), hi));
    }

    static Tensor map(Tensor x, Unary op, float s) {
        return each(x, (src, dst, from, to) -> map(op, s, src, dst, from, to));
    }

    /** GELU with erf, or with its tanh approximation. */
    static Tensor gelu(Tensor x, boolean tanh) {
        return each(x, (src, dst, from, to) -> gelu(tanh, src, dst, from, to));
    }

    /** One call site for the whole range (the tail is a masked vector): the op's code is inlined only once. */
    private static void map(Unary op, float s, float[] src, float[] dst, int from, int to) {
        for (int i = from; i < to; i += V) {
            VectorMask<Float> m = S.indexInRange(i, to);
            FloatVector v = FloatVector.fromArray(S, src, i, m);
            (switch (op) {
                case SILU -> v.div(VectorMath.exp(v.neg()).add(1f));
                case QUICK_GELU -> v.div(VectorMath.exp(v.mul(-1.702f)).add(1f));
                case SCALE -> v.mul(s);
            }).intoArray(dst, i, m);
        }
    }

    /** GELU over {@code [from, to)}, DS.length() elements at a time widened to double. */
    private static void gelu(boolean tanh, float[] src, float[] dst, int from, int to) {
        for (int i = from; i < to; i += FS.length()) {
            VectorMask<Float> m = FS.indexInRange(i, to);
            gelu(tanh, FloatVector.fromArray(FS, src, i, m)).intoArray(dst, i, m);
        }
    }

    /** 0.5 x (1 + erf(x / sqrt 2)), or with tanh(sqrt(2/pi) (x + 0.044715 x^3)) in place of erf. */
    private static FloatVector gelu(boolean tanh, FloatVector v) {
        DoubleVector x = (DoubleVector) v.convertShape(VectorOperators.F2D, DS, 0);
        DoubleVector inner = tanh
                ? VectorMath.tanh(x.mul(x).mul(0.044715).mul(x).add(x).mul(Math.sqrt(2 / Math.PI)))
                : Erf.erf(x.mul(Math.sqrt(0.5)));
        return (FloatVector) x.mul(0.5).mul(inner.add(1)).convertShape(VectorOperators.D2F, FS, 0);
    }

    static Tensor binary(Tensor a, Tensor b, Binary op) {
        int[] shape = Backend.broadcastShape(a.shape(), b.shape());
        Tensor out = Tensor.zeros(shape);
        float[] dst = out.array();
        if (dst.length == 0) return out;
        Tensor ac = a.contiguousF32(), bc = b.contiguousF32();
        float[] x = ac.array(), y = bc.array();
        // Rows over the merged innermost dimensions; each operand steps 1 or 0 (broadcast) along a row.
        long[][] st = Broadcast.collapse(shape, Broadcast.strides(ac, shape), Broadcast.strides(bc, shape));
        long[] dims = st[0], sa = st[1], sb = st[2];
        int r = dims.length, last = (int) dims[r - 1];
        int rows = dst.length / last;
        long la = sa[r - 1], lb = sb[r - 1];
        int grain = Math.max(1, GRAIN / last);
        Parallel.forRange(rows, grain, (r0, r1) -> {
            for (int row = r0; row < r1; row++) {
                long ia = 0, ib = 0;
                long rem = row;
                for (int d = r - 2; d >= 0; d--) {
                    long i = rem % dims[d];
                    rem /= dims[d];
                    ia += i * sa[d];
                    ib += i * sb[d];
                }
                row(op, x, (int) ia, (int) la, y, (int) ib, (int) lb, dst, row * last, last);
            }
        });
        return out;
    }

    /** dst[o..o+n) = x op y, where x and y advance by their step (1, or 0 for a broadcast value) per element. */
    private static void row(Binary op, float[] x, int xo, int xs, float[] y, int yo, int ys, float[] dst, int o, int n) {
        int i = 0;
        if ((xs == 1 || xs == 0) && (ys == 1 || ys == 0)) {
            FloatVector xb = FloatVector.broadcast(S, x[xo]), yb = FloatVector.broadcast(S, y[yo]);
            for (; i <= n - V; i += V) {
                FloatVector u = xs == 1 ? FloatVector.fromArray(S, x, xo + i) : xb;
                FloatVector w = ys == 1 ? FloatVector.fromArray(S, y, yo + i) : yb;
                (switch (op) { case ADD -> u.add(w); case SUB -> u.sub(w); case MUL -> u.mul(w); }).intoArray(dst, o + i);
            }
        }
        for (; i < n; i++) {
            float u = x[xo + i * xs], w = y[yo + i * ys];
            dst[o + i] = switch (op) { case ADD -> u + w; case SUB -> u - w; case MUL -> u * w; };
        }
    }
}
