package dev.tornadodiffusion.tensor.cpu;

import dev.tornadodiffusion.tensor.Tensor;

/** Unary maps and broadcasting binary ops. */
final class Elementwise {
    private Elementwise() {}

    interface Unary { float apply(float v); }
    interface Binary { float apply(float a, float b); }

    static final Unary SILU = v -> v / (1f + (float) Math.exp(-v));
    static final Unary GELU = v -> (float) (0.5 * v * (1.0 + Erf.erf(v / Math.sqrt(2.0))));
    static final Unary GELU_TANH = v -> (float) (0.5 * v * (1.0 + Math.tanh(Math.sqrt(2.0 / Math.PI) * (v + 0.044715 * v * v * v))));
    static final Unary QUICK_GELU = v -> v / (1f + (float) Math.exp(-1.702f * v));
    static final Binary ADD = Float::sum;
    static final Binary SUB = (a, b) -> a - b;
    static final Binary MUL = (a, b) -> a * b;

    static Tensor map(Tensor x, Unary f) {
        float[] src = x.contiguousF32().array();
        Tensor out = Tensor.zeros(x.shape());
        float[] dst = out.array();
        Parallel.forRange(src.length, 4096, (i0, i1) -> {
            for (int i = i0; i < i1; i++) dst[i] = f.apply(src[i]);
        });
        return out;
    }

    static Tensor binary(Tensor a, Tensor b, Binary f) {
        int[] shape = Broadcast.shape(a.shape(), b.shape());
        Tensor out = Tensor.zeros(shape);
        float[] dst = out.array();
        if (a.sameShape(b)) {
            float[] x = a.contiguousF32().array(), y = b.contiguousF32().array();
            Parallel.forRange(dst.length, 4096, (i0, i1) -> {
                for (int i = i0; i < i1; i++) dst[i] = f.apply(x[i], y[i]);
            });
            return out;
        }
        // General case: walk the output in rows of the last dimension.
        Tensor ac = a.contiguousF32(), bc = b.contiguousF32();
        float[] x = ac.array(), y = bc.array();
        long[] sa = Broadcast.strides(ac, shape), sb = Broadcast.strides(bc, shape);
        int r = shape.length, last = r == 0 ? 1 : shape[r - 1];
        int rows = dst.length / Math.max(1, last);
        long la = r == 0 ? 0 : sa[r - 1], lb = r == 0 ? 0 : sb[r - 1];
        Parallel.forRange(rows, 16, (r0, r1) -> {
            for (int row = r0; row < r1; row++) {
                long ia = 0, ib = 0;
                int rem = row;
                for (int d = r - 2; d >= 0; d--) {
                    int i = rem % shape[d];
                    rem /= shape[d];
                    ia += i * sa[d];
                    ib += i * sb[d];
                }
                int o = row * last;
                for (int j = 0; j < last; j++) dst[o + j] = f.apply(x[(int) (ia + j * la)], y[(int) (ib + j * lb)]);
            }
        });
        return out;
    }
}
