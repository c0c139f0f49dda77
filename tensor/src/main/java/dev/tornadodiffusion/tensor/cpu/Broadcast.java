package dev.tornadodiffusion.tensor.cpu;

import dev.tornadodiffusion.tensor.Tensor;

import java.util.Arrays;

/** NumPy broadcasting rules. */
final class Broadcast {
    private Broadcast() {}

    static int[] shape(int[] a, int[] b) {
        int r = Math.max(a.length, b.length);
        int[] out = new int[r];
        for (int i = 0; i < r; i++) {
            int da = i < r - a.length ? 1 : a[i - (r - a.length)];
            int db = i < r - b.length ? 1 : b[i - (r - b.length)];
            if (da != db && da != 1 && db != 1)
                throw new IllegalArgumentException("shapes " + Arrays.toString(a) + " and " + Arrays.toString(b) + " do not broadcast");
            out[i] = Math.max(da, db);
        }
        return out;
    }

    /** Element strides of {@code t} viewed with shape {@code out} (0 where broadcast). */
    static long[] strides(Tensor t, int[] out) {
        long[] st = new long[out.length];
        int[] s = t.shape();
        long[] ts = t.strides();
        int off = out.length - s.length;
        for (int i = 0; i < s.length; i++) st[i + off] = s[i] == 1 ? 0 : ts[i];
        return st;
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
