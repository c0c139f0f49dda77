package dev.tornadodiffusion.cli;

import dev.tornadodiffusion.nn.unet.UNet2DConditionModel;
import dev.tornadodiffusion.nn.unet.UNetConditioning;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

import static dev.tornadodiffusion.cli.bench.BenchData.random;

/**
 * {@code diffuse bench-device}: what a device costs on first use and in steady state, next to the CPU backend.
 * Kernels run one at a time (each call copies its operands in and its result out); a UNet forward pass runs
 * through {@link Backend#run}, so on a recording backend the first call records and compiles the step's plan
 * and later calls replay it. First-call times are reported separately from the steady-state medians.
 */
final class DeviceBenchCommand implements Command {
    @Override public String name() { return "bench-device"; }

    @Override
    public String usage() {
        return "[--device tornado] [--unet DIR] [--latent H W] [--batch B] [--runs N] [--no-kernels] [--no-unet]: first-run and "
                + "steady-state times of kernels and a UNet step on a device vs the CPU (default UNet: the unet-sd fixture)";
    }

    @Override
    public int run(String[] argv) throws Exception {
        Args args = new Args(argv, Set.of("device", "unet", "latent", "batch", "runs"), Set.of("no-kernels", "no-unet"));
        int runs = args.getInt("runs", 5), batch = args.getInt("batch", 2);
        if (runs < 1 || batch < 1) throw new UsageException("--runs and --batch must be at least 1");
        Backend cpu = Backends.cpu(), dev = Backends.get(args.get("device", "tornado"));
        if (!args.has("no-kernels")) kernels(cpu, dev, runs);
        if (!args.has("no-unet")) {
            Path dir = Path.of(args.get("unet", Path.of(System.getProperty("td.home", "."), "..", "shared", "fixtures", "unet-sd").normalize().toString()));
            if (!Files.isRegularFile(dir.resolve("config.json"))) throw new UsageException("no UNet config.json in " + dir + " (give --unet DIR)");
            int[] latent = latent(args);
            unet(dir, cpu, dev, batch, latent, runs);
        }
        return 0;
    }

    private static int[] latent(Args args) {
        String v = args.get("latent", null);
        if (v == null) return null;
        String[] p = v.split("[x, ]+");
        try {
            int h = Integer.parseInt(p[0]), w = Integer.parseInt(p.length > 1 ? p[1] : p[0]);
            if (h > 0 && w > 0) return new int[]{h, w};
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new UsageException("--latent takes H or HxW, got '" + v + "'");
    }

    /** SD-like operations at a 32x32 latent (1024 tokens, 320 channels): small enough for a CPU OpenCL device. */
    private static void kernels(Backend cpu, Backend dev, int runs) {
        Tensor tokens = random(1, 2, 1024, 320), w = random(2, 320, 320), bias = random(3, 320), img = random(4, 2, 320, 32, 32);
        Tensor conv = random(5, 320, 320, 3, 3), ctx = random(6, 2, 77, 320), gamma = random(7, 320);
        Map<String, Function<Backend, Tensor>> ops = new LinkedHashMap<>();
        ops.put("linear [2,1024,320] x [320,320]", be -> be.linear(tokens, w, bias));
        ops.put("conv 3x3 [2,320,32,32] -> 320", be -> be.conv2d(img, conv, bias, 1, 1, 1));
        ops.put("self-attention 1024 tokens, 8 heads x 40", be -> be.attention(tokens, tokens, tokens, 8, false));
        ops.put("cross-attention 1024 x 77 keys", be -> be.attention(tokens, ctx, ctx, 8, false));
        ops.put("group norm + SiLU [2,320,32,32], 32 groups", be -> be.groupNorm(img, 32, gamma, bias, 1e-5f, true));
        ops.put("layer norm [2,1024,320]", be -> be.layerNorm(tokens, gamma, bias, 1e-5f));
        ops.put("GELU [2,1024,320]", be -> be.gelu(tokens));
        ops.put("add, broadcast [2,320,32,32] + [320,1,1]", be -> be.add(img, bias.reshape(320, 1, 1)));
        System.out.printf(Locale.ROOT, "%-44s %12s %14s %14s%n", "kernel (one call: operands in, result out)", "cpu ms", dev.name() + " first s", dev.name() + " ms");
        for (Map.Entry<String, Function<Backend, Tensor>> e : ops.entrySet()) {
            double c = median(() -> e.getValue().apply(cpu), runs, 1);
            long t0 = System.nanoTime();
            e.getValue().apply(dev);
            double first = (System.nanoTime() - t0) / 1e9;
            double d = median(() -> e.getValue().apply(dev), runs, 0);
            System.out.printf(Locale.ROOT, "%-44s %12.2f %14.2f %14.2f%n", e.getKey(), c, first, d);
        }
    }

    private static void unet(Path dir, Backend cpu, Backend dev, int batch, int[] latent, int runs) throws Exception {
        try (UNet2DConditionModel onCpu = UNet2DConditionModel.load(dir, cpu, null); UNet2DConditionModel onDev = UNet2DConditionModel.load(dir, dev, null)) {
            var c = onCpu.config;
            int size = c.sample_size() == null ? 64 : c.sample_size();
            int h = latent == null ? size : latent[0], w = latent == null ? size : latent[1];
            Tensor sample = random(10, batch, c.in_channels(), h, w), ctx = random(11, batch, 77, c.cross_attention_dim()[0]);
            // SDXL's added conditioning: pooled text embeddings and the six size/crop time ids
            boolean textTime = "text_time".equals(c.addition_embed_type());
            Tensor text = textTime ? random(12, batch, c.projection_class_embeddings_input_dim() - 6 * c.addition_time_embed_dim()) : null;
            Tensor timeIds = textTime ? Tensor.of(new float[]{1024, 1024, 0, 0, 1024, 1024, 1024, 1024, 0, 0, 1024, 1024}, 2, 6).narrow(0, 0, Math.min(2, batch)) : null;
            if (textTime && batch > 2) throw new UsageException("--batch above 2 is not set up for SDXL time ids");
            Tensor[] timesteps = new Tensor[runs + 1];
            for (int i = 0; i < timesteps.length; i++) timesteps[i] = Tensor.ofLongs(new long[]{999 - 37L * i});
            System.out.printf(Locale.ROOT, "UNet %s, sample %s, context %s%n", dir, Arrays.toString(sample.shape()), Arrays.toString(ctx.shape()));
            // each model runs on its own backend: the plan is keyed by model, call site and input shapes
            UNetConditioning cond = new UNetConditioning(ctx, text, timeIds, null);
            Function<Tensor, Tensor> cpuStep = t -> onCpu.predict(sample, t, cond);
            Function<Tensor, Tensor> devStep = t -> onDev.predict(sample, t, cond);
            double cpuMs = median(() -> cpuStep.apply(timesteps[0]), runs, 1);
            long t0 = System.nanoTime();
            devStep.apply(timesteps[0]);
            double first = (System.nanoTime() - t0) / 1e9;
            int[] step = {1};
            double devMs = median(() -> devStep.apply(timesteps[step[0]++]), runs, 0);
            System.out.printf(Locale.ROOT, "UNet step: cpu %.1f ms; %s first call (record, compile, run) %.1f s, then %.1f ms per step (median of %d)%n",
                    cpuMs, dev.name(), first, devMs, runs);
        }
    }

    /** Median wall time in ms of {@code runs} calls after {@code warmup} untimed ones. */
    private static double median(Runnable op, int runs, int warmup) {
        for (int i = 0; i < warmup; i++) op.run();
        double[] ms = new double[runs];
        for (int i = 0; i < runs; i++) {
            long t0 = System.nanoTime();
            op.run();
            ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        Arrays.sort(ms);
        return ms[runs / 2];
    }
}
