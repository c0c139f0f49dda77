package dev.tornadodiffusion.cli;

import dev.tornadodiffusion.cli.bench.PeakMemory;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.nn.unet.UNet2DConditionConfig;
import dev.tornadodiffusion.nn.unet.UNet2DConditionModel;
import dev.tornadodiffusion.nn.vae.AutoencoderKL;
import dev.tornadodiffusion.nn.vae.AutoencoderKLConfig;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.JsonConfig;
import dev.tornadodiffusion.weights.StateDict;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The launcher's pre-pass: prints the JVM heap options for {@code ./diffuse ARGS}, sized from what the command will
 * need ({@link MemoryEstimate}) so the collector cannot let garbage grow the process to a fraction of the machine's
 * memory. Commands it does not model (train, parity, convert, ...) keep the JVM's default sizing. Never fails: on any
 * problem it prints the fallback and the real command reports the problem.
 */
final class HeapSize {
    /** Extra room over the estimated live heap, so the collector is not collecting back to back near the limit. */
    static final double HEADROOM = 1.25;
    static final String FALLBACK = "-XX:MaxRAMPercentage=75";

    private HeapSize() {}

    public static void main(String[] argv) {
        String options = FALLBACK;
        try {
            Long heap = heapFor(argv);
            if (heap != null) options = "-Xmx" + (heap >> 20) + "m";
        } catch (Exception | Error ignored) {
            // the command itself will say what is wrong with its arguments
        }
        System.out.println(options);
    }

    /** The heap (bytes) the command needs, or null where it is not modelled. */
    static Long heapFor(String[] argv) throws Exception {
        if (argv.length == 0) return null;
        String command = argv[0];
        String[] rest = java.util.Arrays.copyOfRange(argv, 1, argv.length);
        MemoryEstimate e = switch (command) {
            case "generate" -> generate(InfoText.expand(rest));
            case "bench" -> bench(rest);
            case "serve" -> {
                Lenient a = new Lenient(rest);
                if (a.has("max-memory")) yield new MemoryEstimate(0, 0, ServeCommand.bytes(a.get("max-memory")), "serve");
                yield ServeCommand.largestRequest(model(a), a.get("max-pixels") == null ? dev.tornadodiffusion.cli.web.WebServer.Limits.DEFAULT_MAX_PIXELS
                        : Long.parseLong(a.get("max-pixels")));
            }
            default -> null;
        };
        if (e == null) return null;
        long heap = e.heapWeights() + (long) (HEADROOM * e.activations()) + MemoryEstimate.HEAP_BASE;
        long machine = PeakMemory.availableMemory();
        // never above what the machine has free: a request over it is refused with the estimate, not swapped
        return machine > 0 ? Math.min(heap, Math.max(machine - e.mappedWeights(), 256 * MemoryEstimate.MIB)) : heap;
    }

    private static MemoryEstimate generate(String[] argv) throws Exception {
        Lenient a = new Lenient(argv);
        Integer w = a.integer("width"), h = a.integer("height");
        int batch = a.integer("batch") == null ? 1 : a.integer("batch");
        boolean guided = a.get("guidance") == null || Float.parseFloat(a.get("guidance")) > 1;
        MemoryEstimate base = MemoryEstimate.forPipeline(model(a), w, h, batch, guided, a.get("variant"));
        if (a.get("refiner") == null) return base;
        MemoryEstimate refiner = MemoryEstimate.forPipeline(Path.of(a.get("refiner")), w, h, batch, guided, a.get("variant"));
        return new MemoryEstimate(base.mappedWeights() + refiner.mappedWeights(), base.heapWeights() + refiner.heapWeights(),
                Math.max(base.activations(), refiner.activations()), base.what());
    }

    private static MemoryEstimate bench(String[] argv) throws Exception {
        Lenient a = new Lenient(argv);
        String workload = a.positional.isEmpty() ? "" : a.positional.getFirst();
        String random = a.get("random");
        Path dir = random == null && a.positional.size() > 1 ? Path.of(a.positional.get(1)) : null;
        int batch = a.integer("batch") == null ? ("unet".equals(workload) ? 2 : 1) : a.integer("batch");
        DType dtype = switch (a.get("dtype") == null ? "f32" : a.get("dtype").toLowerCase(Locale.ROOT)) {
            case "f16" -> DType.F16;
            case "bf16" -> DType.BF16;
            default -> DType.F32;
        };
        switch (workload) {
            case "unet" -> {
                UNet2DConditionConfig c = random != null
                        ? UNet2DConditionConfig.fromJson(ModelBenchmarks.builtin("unet-" + random), random)
                        : UNet2DConditionModel.readConfig(dir.resolve("config.json"));
                int latent = a.integer("latent") == null ? 32 : a.integer("latent");
                long act = MemoryEstimate.unetActivations(c, latent, latent, batch);
                return random != null ? new MemoryEstimate(0, parameters(p -> new UNet2DConditionModel(c, p)) * dtype.byteSize, act, "bench unet")
                        : new MemoryEstimate(folderBytes(dir), 0, act, "bench unet");
            }
            case "vae" -> {
                AutoencoderKLConfig c = AutoencoderKLConfig.from(random != null ? new JsonConfig(ModelBenchmarks.builtin("vae-" + random), random)
                        : JsonConfig.read(dir.resolve("config.json")));
                int size = a.integer("size") == null ? 256 : a.integer("size");
                // the bench decodes untiled: the full-resolution work of the batch
                long act = MemoryEstimate.vaeDecodeUntiled(c, size, size, batch);
                return random != null ? new MemoryEstimate(0, parameters(p -> new AutoencoderKL(c, p)) * dtype.byteSize, act, "bench vae")
                        : new MemoryEstimate(folderBytes(dir), 0, act, "bench vae");
            }
            case "pipeline" -> {
                return MemoryEstimate.forPipeline(dir, a.integer("width"), a.integer("height"), batch,
                        a.get("guidance") == null || Float.parseFloat(a.get("guidance")) > 1, a.get("variant"));
            }
            default -> {
                return null;
            }
        }
    }

    private static Path model(Lenient a) {
        return a.get("model") != null ? Path.of(a.get("model")) : GenerateCommand.DEFAULT_MODEL;
    }

    private static long folderBytes(Path dir) throws java.io.IOException {
        try (var files = Files.list(dir)) {
            long n = 0;
            for (Path f : files.filter(f -> f.toString().endsWith(".safetensors")).toList()) n += Files.size(f);
            return n;
        }
    }

    /**
     * The parameter count of a model built from its config: every weight it asks for is a zero-stride view of one
     * float, so nothing of the model's size is allocated.
     */
    static long parameters(java.util.function.Consumer<Params> build) {
        long[] count = {0};
        Set<String> made = new HashSet<>();
        MemorySegment one = MemorySegment.ofArray(new float[1]);
        StateDict empty = new StateDict() {
            @Override public String source() { return "parameter count"; }
            @Override public Set<String> keys() { return made; }
            @Override public Tensor get(String key) { throw new IllegalStateException("no weights: " + key); }
        };
        build.accept(new Params(empty, Backends.cpu(), (key, shape) -> {
            made.add(key);
            count[0] += Tensor.numel(shape);
            return Tensor.asStrided(one, DType.F32, shape, new long[shape.length], 0);
        }));
        return count[0];
    }

    /** {@code --name value} pairs and positionals, without the command's checks (the command makes them). */
    private static final class Lenient {
        final java.util.Map<String, String> options = new java.util.HashMap<>();
        final List<String> positional = new java.util.ArrayList<>();

        Lenient(String[] argv) {
            for (int i = 0; i < argv.length; i++) {
                String s = argv[i];
                if (!s.startsWith("--")) { positional.add(s); continue; }
                int eq = s.indexOf('=');
                if (eq > 0) options.put(s.substring(2, eq), s.substring(eq + 1));
                else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) options.put(s.substring(2), argv[++i]);
                else options.put(s.substring(2), "true");
            }
        }

        boolean has(String name) { return options.containsKey(name); }

        String get(String name) { return options.get(name); }

        Integer integer(String name) { return options.containsKey(name) ? Integer.valueOf(options.get(name)) : null; }
    }
}
