package dev.tornadodiffusion.cli.bench;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.tensor.cpu.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.Locale;

/**
 * This machine's fp32 peak, measured rather than looked up: the better of two measurements. (1) Every kernel
 * thread runs a loop of independent vector FMAs that never touches memory, the most any Java kernel here could
 * reach in principle. (2) The best rate of this project's own GEMM (a 1024^3 matmul, and the benchmark's own
 * rate when it is a GEMM): on a shared machine the FMA loop may have had fewer free cores than the GEMM, and a
 * peak below a rate actually measured would be wrong.
 */
public final class PeakFlops {
    private PeakFlops() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** Independent FMA chains: enough to cover FMA latency times the FMA ports of current cores. */
    private static final int CHAINS = 12;
    /** Short runs, best kept: on a shared machine some of them find the cores free. */
    private static final int TRIALS = 5;

    public record Estimate(double gflops, String how) {}

    /** Where the loop results go, so the JIT cannot drop the loop. */
    private static volatile float sink;

    /** The larger of the FMA loop's and the GEMM's best rates; {@code gemmRate}: a GEMM rate measured by the caller, or 0. */
    public static Estimate measure(double gemmRate) {
        Estimate loop = fmaLoop();
        double gemm = Math.max(gemmRate, gemm1024());
        String how = String.format(Locale.ROOT, "best of %s, and the best GEMM measured (1024^3 matmul, best of %d%s): %.1f GFLOP/s",
                loop.how(), TRIALS, gemmRate > 0 ? ", or this benchmark's" : "", gemm);
        return new Estimate(Math.max(loop.gflops(), gemm), how);
    }

    private static double gemm1024() {
        Backend cpu = Backends.cpu();
        Tensor a = BenchData.random(1, 1024, 1024), b = BenchData.random(2, 1024, 1024);
        for (int i = 0; i < 3; i++) cpu.matmul(a, b);
        double best = 0;
        for (int trial = 0; trial < TRIALS; trial++) {
            long t0 = System.nanoTime();
            cpu.matmul(a, b);
            best = Math.max(best, 2.0 * 1024 * 1024 * 1024 / (System.nanoTime() - t0));
        }
        return best;
    }

    /** Best of {@link #TRIALS} short runs of the FMA loop on {@link Parallel#THREADS} threads. */
    private static Estimate fmaLoop() {
        int threads = Parallel.THREADS;
        for (int i = 0; i < 20; i++) sink = chains(10_000);   // let the JIT compile the loop first
        long iterations = (long) (1.5e10 / (CHAINS * S.length() * 2));   // about 0.15 s per thread at 100 GFLOP/s
        double best = 0;
        for (int trial = 0; trial < TRIALS; trial++) {
            Thread[] ts = new Thread[threads];
            long t0 = System.nanoTime();
            for (int t = 0; t < threads; t++) (ts[t] = new Thread(() -> sink = chains(iterations))).start();
            for (Thread t : ts) {
                try { t.join(); } catch (InterruptedException e) { Thread.currentThread().interrupt(); break; }
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            best = Math.max(best, threads * iterations * CHAINS * S.length() * 2.0 / seconds / 1e9);
        }
        String how = String.format(Locale.ROOT, "a register-only %d-bit FMA loop (%d chains) on %d threads: %.1f GFLOP/s (%.1f per thread)",
                S.vectorBitSize(), CHAINS, threads, best, best / threads);
        return new Estimate(best, how);
    }

    /** {@code iterations} rounds of CHAINS dependent-per-chain FMAs; the result keeps the loop alive. */
    private static float chains(long iterations) {
        FloatVector m = FloatVector.broadcast(S, 0.999999f), c = FloatVector.broadcast(S, 1e-7f);
        FloatVector a0 = FloatVector.broadcast(S, 1f), a1 = a0.add(1f), a2 = a0.add(2f), a3 = a0.add(3f), a4 = a0.add(4f), a5 = a0.add(5f),
                a6 = a0.add(6f), a7 = a0.add(7f), a8 = a0.add(8f), a9 = a0.add(9f), a10 = a0.add(10f), a11 = a0.add(11f);
        for (long i = 0; i < iterations; i++) {
            a0 = a0.fma(m, c); a1 = a1.fma(m, c); a2 = a2.fma(m, c); a3 = a3.fma(m, c);
            a4 = a4.fma(m, c); a5 = a5.fma(m, c); a6 = a6.fma(m, c); a7 = a7.fma(m, c);
            a8 = a8.fma(m, c); a9 = a9.fma(m, c); a10 = a10.fma(m, c); a11 = a11.fma(m, c);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11)
                .reduceLanes(VectorOperators.ADD);
    }
}
