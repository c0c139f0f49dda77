package dev.tornadodiffusion.tensor.tornado;

import java.util.Arrays;

/** Shape arithmetic for strided views: merging dimensions that several views walk the same way. */
final class Views {
    private Views() {}

    /** Dense row-major strides of {@code shape}. */
    static long[] dense(int[] shape) {
        long[] st = new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) { st[i] = s; s *= shape[i]; }
        return st;
    }

    /**
     * The fewest dimensions that walk {@code shape} the way every one of {@code strides} does: dimension i merges
     * into i+1 when, for every view, stride[i] == stride[i+1] * shape[i+1]; dimensions of size 1 are dropped.
     * Returns {shape, strides of view 0, strides of view 1, ...} as a long[][]; a 0-dimensional result becomes [1].
     */
    static long[][] coalesce(int[] shape, long[]... strides) {
        int v = strides.length;
        long[] s = new long[Math.max(1, shape.length)];
        long[][] st = new long[v][Math.max(1, shape.length)];
        int r = 0;
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] == 1) continue;
            boolean merge = r > 0;
            for (int k = 0; k < v && merge; k++) merge = st[k][r - 1] == strides[k][i] * shape[i];
            if (merge) {
                s[r - 1] *= shape[i];
                for (int k = 0; k < v; k++) st[k][r - 1] = strides[k][i];
            } else {
                s[r] = shape[i];
                for (int k = 0; k < v; k++) st[k][r] = strides[k][i];
                r++;
            }
        }
        if (r == 0) {
            s[0] = 1;
            r = 1;
        }
        long[][] out = new long[v + 1][];
        out[0] = Arrays.copyOf(s, r);
        for (int k = 0; k < v; k++) out[k + 1] = Arrays.copyOf(st[k], r);
        return out;
    }

    /** {@code a} right-aligned in {@code rank} dimensions, leading entries {@code fill}. */
    static long[] padLeft(long[] a, int rank, long fill) {
        long[] out = new long[rank];
        Arrays.fill(out, fill);
        System.arraycopy(a, 0, out, rank - a.length, a.length);
        return out;
    }

    /** Strides that read a view of {@code shape}/{@code strides} broadcast to {@code out} (0 where broadcast). */
    static long[] broadcastStrides(int[] shape, long[] strides, int[] out) {
        long[] st = new long[out.length];
        int off = out.length - shape.length;
        for (int i = 0; i < shape.length; i++) st[i + off] = shape[i] == 1 ? 0 : strides[i];
        return st;
    }

    /**
     * The strides that view {@code shape}/{@code strides} as {@code target} (same number of elements) without a copy,
     * or null when the elements are not laid out that way (PyTorch's computeStride rule).
     */
    static long[] reshape(int[] shape, long[] strides, int[] target) {
        long[] out = new long[target.length];
        long numel = 1;
        for (int s : shape) numel *= s;
        if (numel == 0 || shape.length == 0) {
            Arrays.fill(out, 1);
            return out;
        }
        int v = target.length - 1;
        long chunk = strides[shape.length - 1], tensorNumel = 1, viewNumel = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            tensorNumel *= shape[d];
            if (d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensorNumel * chunk)) {
                while (v >= 0 && (viewNumel < tensorNumel || target[v] == 1)) {
                    out[v] = viewNumel * chunk;
                    viewNumel *= target[v];
                    v--;
                }
                if (viewNumel != tensorNumel) return null;
                if (d > 0) {
                    chunk = strides[d - 1];
                    tensorNumel = 1;
                    viewNumel = 1;
                }
            }
        }
        return v == -1 ? out : null;
    }
}
