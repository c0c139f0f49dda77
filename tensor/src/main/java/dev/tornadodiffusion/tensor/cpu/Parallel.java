package dev.tornadodiffusion.tensor.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.RecursiveAction;

/** The one thread pool of the CPU backend: all cores, shared by every kernel. */
public final class Parallel {
    public static final int THREADS = Integer.getInteger("td.threads", Runtime.getRuntime().availableProcessors());
    private static final ForkJoinPool POOL = new ForkJoinPool(THREADS);

    private Parallel() {}

    public interface Range { void run(int start, int end); }

    /**
     * Runs {@code body} over [0, n) split into contiguous ranges of at least {@code grain} items: up to
     * 8 per thread, so that when another process holds a core, the free ones take over its share.
     */
    public static void forRange(int n, int grain, Range body) {
        if (n <= 0) return;
        int chunks = Math.max(1, Math.min(THREADS * 8, n / Math.max(1, grain)));
        if (chunks == 1 || THREADS == 1 || ForkJoinTask.getPool() == POOL) { body.run(0, n); return; }
        POOL.invoke(new Split(body, 0, n, (n + chunks - 1) / chunks));
    }

    public static void forRange(int n, Range body) { forRange(n, 1, body); }

    private static final class Split extends RecursiveAction {
        final Range body; final int lo, hi, step;
        Split(Range body, int lo, int hi, int step) { this.body = body; this.lo = lo; this.hi = hi; this.step = step; }
        @Override protected void compute() {
            if (hi - lo <= step) { body.run(lo, hi); return; }
            int mid = lo + ((hi - lo) / 2 + step - 1) / step * step;
            invokeAll(new Split(body, lo, mid, step), new Split(body, mid, hi, step));
        }
    }
}
