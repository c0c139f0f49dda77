package dev.tornadodiffusion.tensor.cpu;

import dev.tornadodiffusion.tensor.Tensor;

import java.util.Arrays;

/** NumPy broadcasting rules. */
final class Broadcast {
    private Broadcast() {}

    /** Element strides of {@code t} viewed with shape {@code out} (0 where broadcast). */
    static long[] strides(Tensor t, int[] out) {
        long[] st = new long[out.length];
        int[] s = t.shape();
        long[] ts = t.strides();
        int off = out.length - s.length;
        for (int i = 0; i < s.length; i++) st[i + off] = s[i] == 1 ? 0 : ts[i];
        return st;
    }

    /**
     * {@code shape} with dimensions of size 1 dropped and neighbours merged wherever both stride
     * arrays allow it: {dims, stridesA, stridesB}, at least one dimension.
     */
    static long[][] collapse(int[] shape, long[] sa, long[] sb) {
        long[] d = new long[shape.length + 1], a = new long[d.length], b = new long[d.length];
        int r = 0;
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] == 1) continue;
            if (r > 0 && a[r - 1] == sa[i] * shape[i] && b[r - 1] == sb[i] * shape[i]) {
                d[r - 1] *= shape[i];
                a[r - 1] = sa[i];
                b[r - 1] = sb[i];
            } else {
                d[r] = shape[i];
                a[r] = sa[i];
                b[r] = sb[i];
                r++;
            }
        }
        if (r == 0) { d[0] = 1; r = 1; }
        return new long[][]{Arrays.copyOf(d, r), Arrays.copyOf(a, r), Arrays.copyOf(b, r)};
    }

    /** The 2-D matrix of batch element {@code bi} of a [..., M, K] tensor broadcast to {@code batch}. */
    static Tensor matrix(Tensor t, int[] batch, int bi) {
        int lead = t.rank() - 2;
        int off = batch.length - lead;
        Tensor m = t;
        int rem = bi;
        int[] idx = new int[batch.length];
        for (int i = batch.length - 1; i >= 0; i--) { idx[i] = rem % batch[i]; rem /= batch[i]; }
        for (int i = 0; i < lead; i++) m = m.select(0, t.dim(i) == 1 ? 0 : idx[i + off]);
        return m;
    }
}
