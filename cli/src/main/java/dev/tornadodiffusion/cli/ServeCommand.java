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
                + ")] [--time-limit SECONDS (" + (int) WebServer.Limits.DEFAULT_TIME_LIMIT + ", 0: none)] [--device cpu|tornado] [--vae-tiny DIR]"
                + "   page at http://HOST:PORT/, POST /generate {\"prompt\": ...} -> PNG, A1111 API at /sdapi/v1/";
    }

    @Override
    public int run(String[] argv) throws Exception {
        Args a = new Args(argv, Set.of("model", "port", "host", "queue", "device", "max-pixels", "time-limit", "vae-tiny"), Set.of());
        if (!a.positional().isEmpty()) throw new UsageException("unexpected argument '" + a.positional().get(0) + "'");
        int port = a.getInt("port", 8080), queue = a.getInt("queue", 8);
        long maxPixels = a.getLong("max-pixels", WebServer.Limits.DEFAULT_MAX_PIXELS);
        float timeLimit = a.getFloat("time-limit", (float) WebServer.Limits.DEFAULT_TIME_LIMIT);
        if (port < 0 || port > 65535) throw new UsageException("--port must be 0..65535");
        if (queue < 1) throw new UsageException("--queue must be >= 1");
        if (maxPixels < 64) throw new UsageException("--max-pixels must be >= 64");
        if (!(timeLimit >= 0) || Float.isInfinite(timeLimit)) throw new UsageException("--time-limit must be a number of seconds >= 0");
        Path model = SingleFileModels.folder(Path.of(a.get("model", GenerateCommand.DEFAULT_MODEL.toString())), null, System.err);
        Checks.serve(model);
        if (GenerateCommand.randomWeights(model)) System.err.println("serve: " + model + " has RANDOM weights: its images are abstract patterns; pass --model DIR for a real model");
        Path tiny = a.has("vae-tiny") ? Path.of(a.get("vae-tiny", null)) : null;
        if (tiny != null && !java.nio.file.Files.isDirectory(tiny)) throw new UsageException("--vae-tiny " + tiny + " is not a folder (a diffusers AutoencoderTiny / TAESD folder)");
        Pipeline pipeline = Pipeline.load(model, Backends.get(a.get("device", "cpu")), LoadOptions.DEFAULT.withVaeTiny(tiny));
        String host = a.get("host", "127.0.0.1");
        var server = WebServer.start(pipeline, model, host, port, new WebServer.Limits(queue, maxPixels, timeLimit), System.err);
        System.err.printf("serve: %s%nserve: open http://%s:%d/ (A1111 API at /sdapi/v1/, queue %d)%n", pipeline.description(), host, server.getAddress().getPort(), queue);
        new CountDownLatch(1).await();
        return 0;
    }
}
