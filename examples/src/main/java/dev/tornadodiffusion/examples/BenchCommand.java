package dev.tornadodiffusion.examples;

import dev.tornadodiffusion.examples.bench.PeakFlops;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import static dev.tornadodiffusion.examples.bench.BenchData.random;

/**
 * {@code diffuse bench <name>}: times one kernel-level workload through a {@link Backend} and compares
 * its rate with this machine's fp32 peak. A workload is a name mapped to a factory in {@link #WORKLOADS}.
 */
final class BenchCommand implements Command {

    /** One timed operation: what it computes, its floating-point work, and the run itself. */
    record Workload(String shape, double flops, Runnable op) {}

    private interface Factory { Workload create(Backend backend, Args args, List<String> sizes); }

    private static final Map<String, Factory> WORKLOADS = new LinkedHashMap<>();
    static {
        WORKLOADS.put("gemm", BenchCommand::gemm);
        WORKLOADS.put("conv", BenchCommand::conv);
        WORKLOADS.put("attention", BenchCommand::attention);
    }

    @Override public String name() { return "bench"; }

    @Override
    public String usage() {
        return "<" + String.join("|", WORKLOADS.keySet()) + "> [sizes] [--runs N] [--warmup N] [--device cpu]: time a kernel "
                + "(gemm [N | M N K]; conv [--channels C --out C --size HW --batch B --kernel K --stride S --groups G]; "
                + "attention [--tokens N --keys N --heads H --dim D --batch B --causal])";
    }

    @Override
    public int run(String[] argv) {
        Args args = new Args(argv, Set.of("runs", "warmup", "device", "channels", "out", "size", "batch", "kernel", "stride", "groups",
                "tokens", "keys", "heads", "dim"), Set.of("causal"));
        List<String> pos = args.positional();
        if (pos.isEmpty()) throw new UsageException("name a benchmark: " + String.join(", ", WORKLOADS.keySet()));
        Factory factory = WORKLOADS.get(pos.get(0));
        if (factory == null)
            throw new UsageException("unknown benchmark '" + pos.get(0) + "' (known: " + String.join(", ", WORKLOADS.keySet()) + ")");
        int runs = positive(args, "runs", 5), warmup = Math.max(0, args.getInt("warmup", 2));
        Backend backend = Backends.get(args.get("device", "cpu"));
        Workload w = factory.create(backend, args, pos.subList(1, pos.size()));

        // Warm up for the given runs and at least a second, so the JIT has compiled the kernels.
        long warmEnd = System.nanoTime() + 1_000_000_000L;
        for (int i = 0; i < warmup || System.nanoTime() < warmEnd; i++) w.op().run();
        double[] ms = new double[runs];
        for (int i = 0; i < runs; i++) {
            long t0 = System.nanoTime();
            w.op().run();
            ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        Arrays.sort(ms);
        double best = ms[0], gflops = w.flops() / (best * 1e6);
        System.out.printf(Locale.ROOT, "%s %s on %s: best %.2f ms, median %.2f ms of %d runs, %.1f GFLOP/s%n",
                pos.get(0), w.shape(), backend.name(), best, ms[runs / 2], runs, gflops);
        PeakFlops.Estimate peak = PeakFlops.measure();
        System.out.printf(Locale.ROOT, "peak: %s%n", peak.how());
        if (gflops > peak.gflops()) System.out.println("note: above the measured peak: other processes were using the cores while the peak was measured");
        System.out.printf(Locale.ROOT, "GFLOP/s=%.1f peak=%.1f (%.1f%% of peak)%n", gflops, peak.gflops(), 100 * gflops / peak.gflops());
        return 0;
    }

    private static Workload gemm(Backend backend, Args args, List<String> sizes) {
        int[] s = sizes.stream().mapToInt(BenchCommand::size).toArray();
        if (s.length != 0 && s.length != 1 && s.length != 3) throw new UsageException("gemm takes N or M N K");
        int m = s.length == 0 ? 1024 : s[0], n = s.length == 3 ? s[1] : m, k = s.length == 3 ? s[2] : m;
        Tensor a = random(1, m, k), b = random(2, k, n);
        return new Workload(m + "x" + n + "x" + k + " (MxNxK)", 2.0 * m * n * k, () -> backend.matmul(a, b));
    }

    private static Workload conv(Backend backend, Args args, List<String> sizes) {
        noSizes("conv", sizes);
        int c = positive(args, "channels", 320), oc = positive(args, "out", c), hw = positive(args, "size", 64);
        int batch = positive(args, "batch", 2), k = positive(args, "kernel", 3), stride = positive(args, "stride", 1), groups = positive(args, "groups", 1);
        if (c % groups != 0 || oc % groups != 0) throw new UsageException("--groups must divide --channels and --out");
        int pad = k / 2, out = (hw + 2 * pad - k) / stride + 1;
        Tensor x = random(1, batch, c, hw, hw), w = random(2, oc, c / groups, k, k), bias = random(3, oc);
        double flops = 2.0 * batch * oc * out * out * (c / groups) * k * k;
        String shape = String.format(Locale.ROOT, "%dx%d, padding %d, stride %d, groups %d: [%d, %d, %d, %d] -> %d channels",
                k, k, pad, stride, groups, batch, c, hw, hw, oc);
        return new Workload(shape, flops, () -> backend.conv2d(x, w, bias, stride, pad, groups));
    }

    private static Workload attention(Backend backend, Args args, List<String> sizes) {
        noSizes("attention", sizes);
        int nq = positive(args, "tokens", 4096), nk = positive(args, "keys", nq), heads = positive(args, "heads", 8);
        int dim = positive(args, "dim", 40), batch = positive(args, "batch", 1);
        boolean causal = args.has("causal");
        Tensor q = random(1, batch, nq, heads * dim), k = random(2, batch, nk, heads * dim), v = random(3, batch, nk, heads * dim);
        // QK^T and PV: 2 * 2 * nq * nk * dim per head; a causal mask skips about half of it.
        double flops = 4.0 * batch * heads * nq * nk * dim * (causal ? 0.5 : 1);
        String shape = String.format(Locale.ROOT, "batch %d, %d queries x %d keys, %d heads x %d dim%s", batch, nq, nk, heads, dim, causal ? ", causal" : "");
        return new Workload(shape, flops, () -> backend.attention(q, k, v, heads, causal));
    }

    private static int size(String s) {
        try {
            int v = Integer.parseInt(s);
            if (v > 0) return v;
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new UsageException("sizes must be positive integers, got '" + s + "'");
    }

    private static int positive(Args args, String name, int fallback) {
        int v = args.getInt(name, fallback);
        if (v < 1) throw new UsageException("--" + name + " must be at least 1, got " + v);
        return v;
    }

    private static void noSizes(String name, List<String> sizes) {
        if (!sizes.isEmpty()) throw new UsageException(name + " takes options, not sizes: " + sizes);
    }
}
