package dev.tornadodiffusion.cli;

import dev.tornadodiffusion.cli.bench.OpProfile;
import dev.tornadodiffusion.cli.bench.PeakFlops;
import dev.tornadodiffusion.cli.bench.PeakMemory;
import dev.tornadodiffusion.cli.bench.Recorder;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.tensor.cpu.Parallel;

import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import static dev.tornadodiffusion.cli.bench.BenchData.random;

/**
 * {@code diffuse bench <name>}: times a workload through a {@link Backend}. A workload is a name mapped to a factory
 * in {@link #WORKLOADS}: kernels (gemm, conv, attention), whose rate is compared with this machine's fp32 peak, and
 * models (unet, vae, clip, tld, pipeline; see {@link ModelBenchmarks}), reported in seconds per run with their
 * parameters and peak memory. Every workload gets warm-up runs first; {@code --profile} adds time per backend op.
 */
final class BenchCommand implements Command {

    /** One timed operation: what it computes, its floating-point work (0 when not counted), the run itself; null model for kernels. */
    record Workload(String shape, double flops, Runnable op, Model model) {
        Workload(String shape, double flops, Runnable op) { this(shape, flops, op, null); }
    }

    /**
     * What a model-level workload adds: a line on its parameters and weights, what one run is ("s/it" for one forward,
     * "s per generation" for a pipeline) and measurements taken alongside the runs.
     */
    record Model(String about, String perRun, List<Recorder> recorders) {}

    private interface Factory { Workload create(Backend backend, Args args, List<String> sizes) throws IOException; }

    private static final Map<String, Factory> WORKLOADS = new LinkedHashMap<>();
    static {
        WORKLOADS.put("gemm", BenchCommand::gemm);
        WORKLOADS.put("conv", BenchCommand::conv);
        WORKLOADS.put("attention", BenchCommand::attention);
        WORKLOADS.put("unet", ModelBenchmarks::unet);
        WORKLOADS.put("vae", ModelBenchmarks::vae);
        WORKLOADS.put("clip", ModelBenchmarks::clip);
        WORKLOADS.put("tld", ModelBenchmarks::tld);
        WORKLOADS.put("pipeline", ModelBenchmarks::pipeline);
    }

    private final PrintStream out;

    BenchCommand() { this(System.out); }

    BenchCommand(PrintStream out) { this.out = out; }

    @Override public String name() { return "bench"; }

    @Override
    public String usage() {
        return "<" + String.join("|", WORKLOADS.keySet()) + "> [sizes | DIR] [--runs N] [--warmup N] [--device cpu] [--profile]: time a kernel or a model "
                + "(gemm [N | M N K]; conv [--channels C --out C --size HW --batch B --kernel K --stride S --groups G]; "
                + "attention [--tokens N --keys N --heads H --dim D --batch B --causal]; "
                + "unet DIR|--random " + String.join("|", ModelBenchmarks.RANDOM_UNETS) + " [--latent N --batch B --tokens N (text tokens, 77)]; "
                + "vae DIR|--random " + String.join("|", ModelBenchmarks.RANDOM_VAES) + " [--size PX --batch B] (decode); "
                + "clip DIR|--random " + String.join("|", ModelBenchmarks.RANDOM_CLIPS) + " [--batch B]; "
                + "tld DIR|--random " + String.join("|", ModelBenchmarks.RANDOM_TLDS) + " [--batch B]; "
                + "models: --dtype f32|f16|bf16 for random weights, --variant fp16 for a folder's files; "
                + "pipeline DIR [--steps N --width W --height H --batch B --prompt TEXT --guidance G --sampler NAME])";
    }

    @Override
    public int run(String[] argv) throws IOException {
        Args args = new Args(argv, Set.of("runs", "warmup", "device", "channels", "out", "size", "batch", "kernel", "stride", "groups",
                "tokens", "keys", "heads", "dim", "random", "dtype", "variant", "latent", "steps", "width", "height", "prompt",
                "guidance", "sampler"), Set.of("causal", "profile"));
        List<String> pos = args.positional();
        if (pos.isEmpty()) throw new UsageException("name a benchmark: " + String.join(", ", WORKLOADS.keySet()));
        Factory factory = WORKLOADS.get(pos.get(0));
        if (factory == null)
            throw new UsageException("unknown benchmark '" + pos.get(0) + "' (known: " + String.join(", ", WORKLOADS.keySet()) + ")");
        Backend backend = Backends.get(args.get("device", "cpu"));
        OpProfile profile = args.has("profile") ? new OpProfile(backend) : null;
        Workload w = factory.create(profile == null ? backend : profile.backend(), args, pos.subList(1, pos.size()));
        boolean model = w.model() != null;
        int runs = positive(args, "runs", model ? 3 : 5), warmup = Math.max(0, args.getInt("warmup", model ? 1 : 2));

        List<Recorder> recorders = new ArrayList<>(model ? w.model().recorders() : List.of());
        if (profile != null) recorders.add(profile);
        if (model) {
            out.printf(Locale.ROOT, "%s %s on %s, %d threads%n%s%n", pos.get(0), w.shape(), backend.name(), Parallel.THREADS, w.model().about());
            recorders.add(new PeakMemory());
        }
        // Warm up for the given runs and, for kernels, at least a second, so the JIT has compiled them.
        long warmEnd = System.nanoTime() + (model ? 0 : 1_000_000_000L);
        for (int i = 0; i < warmup || System.nanoTime() < warmEnd; i++) {
            long t0 = System.nanoTime();
            w.op().run();
            if (model) out.printf(Locale.ROOT, "warm-up %d: %.3f s%n", i + 1, (System.nanoTime() - t0) / 1e9);
        }
        recorders.forEach(Recorder::reset);
        double[] ms = new double[runs];
        for (int i = 0; i < runs; i++) {
            long t0 = System.nanoTime();
            w.op().run();
            ms[i] = (System.nanoTime() - t0) / 1e6;
            if (model) out.printf(Locale.ROOT, "run %d: %.3f s%n", i + 1, ms[i] / 1e3);
        }
        double[] sorted = ms.clone();
        Arrays.sort(sorted);
        double best = sorted[0], median = sorted[runs / 2];
        if (model) {
            String unit = w.model().perRun();
            out.printf(Locale.ROOT, "%s: best %.3f %s, median %.3f %s of %d runs%n", pos.get(0), best / 1e3, unit, median / 1e3, unit, runs);
            recorders.forEach(r -> r.print(out, runs));
            return 0;
        }
        double gflops = w.flops() / (best * 1e6);
        out.printf(Locale.ROOT, "%s %s on %s: best %.2f ms, median %.2f ms of %d runs, %.1f GFLOP/s%n",
                pos.get(0), w.shape(), backend.name(), best, median, runs, gflops);
        recorders.forEach(r -> r.print(out, runs));
        PeakFlops.Estimate peak = PeakFlops.measure(pos.get(0).equals("gemm") && backend.name().equals("cpu") ? gflops : 0);
        out.printf(Locale.ROOT, "peak: %s%n", peak.how());
        if (gflops > peak.gflops()) out.println("note: above the measured peak: other processes were using the cores while the peak was measured");
        out.printf(Locale.ROOT, "GFLOP/s=%.1f peak=%.1f (%.1f%% of peak)%n", gflops, peak.gflops(), 100 * gflops / peak.gflops());
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

    static int positive(Args args, String name, int fallback) {
        int v = args.getInt(name, fallback);
        if (v < 1) throw new UsageException("--" + name + " must be at least 1, got " + v);
        return v;
    }

    private static void noSizes(String name, List<String> sizes) {
        if (!sizes.isEmpty()) throw new UsageException(name + " takes options, not sizes: " + sizes);
    }
}
