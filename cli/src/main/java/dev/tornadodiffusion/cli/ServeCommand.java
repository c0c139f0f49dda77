package dev.tornadodiffusion.cli;

import dev.tornadodiffusion.diffusion.pipelines.LoadOptions;
import dev.tornadodiffusion.diffusion.pipelines.Pipeline;
import dev.tornadodiffusion.cli.web.WebServer;
import dev.tornadodiffusion.tensor.Backends;

import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

/**
 * {@code diffuse serve}: the web page at {@code /}, {@code POST /generate} (JSON in, PNG out) and the A1111 API
 * subset under {@code /sdapi/v1/}, all behind one bounded job queue (see {@link WebServer}).
 */
final class ServeCommand implements Command {
    @Override public String name() { return "serve"; }

    @Override
    public String usage() {
        return "[--model DIR|FILE.safetensors|FILE.ckpt] [--port N (8080)] [--host ADDR (127.0.0.1)] [--queue N (8)] [--max-pixels N (" + WebServer.Limits.DEFAULT_MAX_PIXELS
                + ")] [--max-pixel-steps N (max-pixels x " + WebServer.Limits.DEFAULT_STEPS + ")] [--max-memory BYTES[k|m|g] (the machine's free memory)]"
                + " [--time-limit SECONDS (" + (int) WebServer.Limits.DEFAULT_TIME_LIMIT + ", 0: none)] [--device cpu|tornado] [--vae-tiny DIR]"
                + "   page at http://HOST:PORT/, POST /generate {\"prompt\": ...} -> PNG, A1111 API at /sdapi/v1/";
    }

    @Override
    public int run(String[] argv) throws Exception {
        Args a = new Args(argv, Set.of("model", "port", "host", "queue", "device", "max-pixels", "time-limit", "vae-tiny",
                "max-pixel-steps", "max-memory"), Set.of());
        if (!a.positional().isEmpty()) throw new UsageException("unexpected argument '" + a.positional().get(0) + "'");
        int port = a.getInt("port", 8080), queue = a.getInt("queue", 8);
        long maxPixels = a.getLong("max-pixels", WebServer.Limits.DEFAULT_MAX_PIXELS);
        float timeLimit = a.getFloat("time-limit", (float) WebServer.Limits.DEFAULT_TIME_LIMIT);
        if (port < 0 || port > 65535) throw new UsageException("--port must be 0..65535");
        if (queue < 1) throw new UsageException("--queue must be >= 1");
        if (maxPixels < 64) throw new UsageException("--max-pixels must be >= 64");
        long maxPixelSteps = a.getLong("max-pixel-steps", maxPixels * WebServer.Limits.DEFAULT_STEPS);
        if (maxPixelSteps < 64) throw new UsageException("--max-pixel-steps must be >= 64");
        long maxMemory = a.has("max-memory") ? bytes(a.get("max-memory", "")) : 0;
        if (!(timeLimit >= 0) || Float.isInfinite(timeLimit)) throw new UsageException("--time-limit must be a number of seconds >= 0");
        Path model = SingleFileModels.folder(Path.of(a.get("model", GenerateCommand.DEFAULT_MODEL.toString())), null, System.err);
        Checks.serve(model);
        if (GenerateCommand.randomWeights(model)) System.err.println("serve: " + model + " has RANDOM weights: its images are abstract patterns; pass --model DIR for a real model");
        Path tiny = a.has("vae-tiny") ? Path.of(a.get("vae-tiny", null)) : null;
        if (tiny != null && !java.nio.file.Files.isDirectory(tiny)) throw new UsageException("--vae-tiny " + tiny + " is not a folder (a diffusers AutoencoderTiny / TAESD folder)");
        Pipeline pipeline = Pipeline.load(model, Backends.get(a.get("device", "cpu")), LoadOptions.DEFAULT.withVaeTiny(tiny));
        String host = a.get("host", "127.0.0.1");
        var server = WebServer.start(pipeline, model, host, port, new WebServer.Limits(queue, maxPixels, timeLimit, maxPixelSteps, maxMemory), System.err);
        System.err.printf("serve: %s%nserve: open http://%s:%d/ (A1111 API at /sdapi/v1/, queue %d)%n", pipeline.description(), host, server.getAddress().getPort(), queue);
        new CountDownLatch(1).await();
        return 0;
    }

    /** "8g", "512m", "100k" or plain bytes; at least 1 MiB. */
    static long bytes(String v) {
        String s = v.trim().toLowerCase(java.util.Locale.ROOT);
        int shift = s.endsWith("g") ? 30 : s.endsWith("m") ? 20 : s.endsWith("k") ? 10 : 0;
        try {
            double n = Double.parseDouble(shift == 0 ? s : s.substring(0, s.length() - 1));
            if (n * (1L << shift) >= 1 << 20 && n * (1L << shift) < Long.MAX_VALUE) return (long) (n * (1L << shift));
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new UsageException("--max-memory must be a size of at least 1m such as 512m or 8g, got '" + v + "'");
    }

    /**
     * The request within --max-pixels that needs the most memory: one square image of that many pixels (tiled by the
     * VAE when large), or a batch of default-size images (decoded at once).
     */
    static MemoryEstimate largestRequest(Path model, long maxPixels) throws java.io.IOException {
        MemoryEstimate defaults = MemoryEstimate.forPipeline(model, null, null, 1, true, null);
        int side = Math.max(8, (int) Math.sqrt((double) maxPixels) / 8 * 8);
        MemoryEstimate square = MemoryEstimate.forPipeline(model, side, side, 1, true, null);
        String[] size = defaults.what().split("[x ]");
        long defaultPixels = Long.parseLong(size[0]) * Long.parseLong(size[1]);
        int batch = (int) Math.max(1, Math.min(64, maxPixels / defaultPixels));
        MemoryEstimate batched = MemoryEstimate.forPipeline(model, null, null, batch, true, null);
        return batched.activations() > square.activations() ? batched : square;
    }
}
