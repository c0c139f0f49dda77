package dev.tornadodiffusion.tensor.cpu;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

import static dev.tornadodiffusion.tensor.cpu.Gemm.S;
import static dev.tornadodiffusion.tensor.cpu.Gemm.V;

/**
 * Activations and broadcasting binary ops, vectorized. One loop per kind of op with a switch inside
 * (a lambda per op would be a megamorphic call that boxes every vector). GELU and tanh-GELU are float
 * lanes too ({@link VectorMath#gelu}): the double-lane versions they replaced cost 17% of a UNet step.
 */
final class Elementwise {
    private Elementwise() {}

    enum Unary { SILU, GELU, GELU_TANH, QUICK_GELU, SCALE }

    enum Binary { ADD, SUB, MUL }

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
        return map(x, tanh ? Unary.GELU_TANH : Unary.GELU, 0f);
    }

    /**
     * One method per op, each with one call site of its vector function (the tail is a masked vector). A switch
     * inside one loop inlined exp four times, which passed C2's inlining node budget: exp then became a call
     * that boxed every vector, 3 ns per element.
     */
    private static void map(Unary op, float s, float[] src, float[] dst, int from, int to) {
        switch (op) {
            case SILU -> silu(src, dst, from, to);
            case GELU -> gelu(src, dst, from, to);
            case GELU_TANH -> geluTanh(src, dst, from, to);
            case QUICK_GELU -> quickGelu(src, dst, from, to);
            case SCALE -> scale(s, src, dst, from, to);
        }
    }

    private static void silu(float[] src, float[] dst, int from, int to) {
        for (int i = from; i < to; i += V) {
            VectorMask<Float> m = S.indexInRange(i, to);
            VectorMath.silu(FloatVector.fromArray(S, src, i, m)).intoArray(dst, i, m);
        }
    }

    private static void gelu(float[] src, float[] dst, int from, int to) {
        for (int i = from; i < to; i += V) {
            VectorMask<Float> m = S.indexInRange(i, to);
            VectorMath.gelu(FloatVector.fromArray(S, src, i, m)).intoArray(dst, i, m);
        }
    }

    private static void geluTanh(float[] src, float[] dst, int from, int to) {
        for (int i = from; i < to; i += V) {
            VectorMask<Float> m = S.indexInRange(i, to);
            VectorMath.geluTanh(FloatVector.fromArray(S, src, i, m)).intoArray(dst, i, m);
        }
    }

    private static void quickGelu(float[] src, float[] dst, int from, int to) {
        for (int i = from; i < to; i += V) {
            VectorMask<Float> m = S.indexInRange(i, to);
            FloatVector v = FloatVector.fromArray(S, src, i, m);
            v.div(VectorMath.exp(v.mul(-1.702f)).add(1f)).intoArray(dst, i, m);
        }
    }

    private static void scale(float s, float[] src, float[] dst, int from, int to) {
        for (int i = from; i < to; i += V) {
            VectorMask<Float> m = S.indexInRange(i, to);
            FloatVector.fromArray(S, src, i, m).mul(s).intoArray(dst, i, m);
        }
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
