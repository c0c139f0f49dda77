package dev.tornadodiffusion.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.tornadodiffusion.diffusion.image.Png;
import dev.tornadodiffusion.diffusion.pipelines.GenerationRequest;
import dev.tornadodiffusion.diffusion.pipelines.GenerationResult;
import dev.tornadodiffusion.diffusion.pipelines.LoadOptions;
import dev.tornadodiffusion.diffusion.pipelines.Pipeline;
import dev.tornadodiffusion.diffusion.pipelines.Progress;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.weights.Json;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code diffuse serve}: a small HTTP endpoint. {@code POST /generate} takes a JSON request and answers with a
 * PNG; requests wait in a bounded queue (full: 429); bad requests get a 4xx with a one-line JSON error.
 */
final class ServeCommand implements Command {
    private static final Set<String> FIELDS = Set.of("prompt", "negative_prompt", "steps", "guidance_scale", "seed", "width", "height", "sampler",
            "sampler_name", "guidance_rescale", "literal_prompt", "init_image", "mask", "denoising_strength", "preview_every");
    /** Room for an init image and a mask as base64 PNGs. */
    private static final int MAX_BODY = 32 * 1024 * 1024;

    @Override public String name() { return "serve"; }

    @Override public String usage() {
        return "[--model DIR] [--port N] [--host ADDR] [--queue N] [--device cpu|tornado] [--vae-tiny DIR]   POST /generate {\"prompt\": ...} -> PNG;"
                + " with \"preview_every\": N, GET /preview gives the running generation's latest preview";
    }

    @Override
    public int run(String[] argv) throws Exception {
        Args a = new Args(argv, Set.of("model", "port", "host", "queue", "device", "vae-tiny"), Set.of());
        if (!a.positional().isEmpty()) throw new UsageException("unexpected argument '" + a.positional().get(0) + "'");
        int port = a.getInt("port", 8080), queue = a.getInt("queue", 8);
        if (port < 0 || port > 65535) throw new UsageException("--port must be 0..65535");
        if (queue < 1) throw new UsageException("--queue must be >= 1");
        Path model = Path.of(a.get("model", GenerateCommand.DEFAULT_MODEL.toString()));
        if (GenerateCommand.randomWeights(model)) System.err.println("serve: " + model + " has RANDOM weights: its images are abstract patterns; pass --model DIR for a real model");
        Path tiny = a.has("vae-tiny") ? Path.of(a.get("vae-tiny", null)) : null;
        if (tiny != null && !java.nio.file.Files.isDirectory(tiny)) throw new UsageException("--vae-tiny " + tiny + " is not a folder (a diffusers AutoencoderTiny / TAESD folder)");
        Pipeline pipeline = Pipeline.load(model, Backends.get(a.get("device", "cpu")), LoadOptions.DEFAULT.withVaeTiny(tiny));
        HttpServer server = start(pipeline, a.get("host", "127.0.0.1"), port, queue);
        System.err.printf("serve: %s on http://%s:%d/generate (queue %d)%n", pipeline.description(), a.get("host", "127.0.0.1"), server.getAddress().getPort(), queue);
        new CountDownLatch(1).await();
        return 0;
    }

    /** Starts the server; generation runs on one worker (it already uses every core), behind a queue of {@code queue} requests. */
    static HttpServer start(Pipeline pipeline, String host, int port, int queue) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 0);
        ThreadPoolExecutor workers = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(queue));
        server.setExecutor(null);
        // the latest preview of the running generation (requests with "preview_every": N), polled while it runs
        AtomicReference<byte[]> preview = new AtomicReference<>();
        server.createContext("/preview", ex -> {
            byte[] png = preview.get();
            if (png == null) send(ex, 204, "image/png", new byte[0]);
            else send(ex, 200, "image/png", png);
        });
        server.createContext("/health", ex -> send(ex, 200, "application/json", ("{\"model\":" + json(pipeline.description()) + "}").getBytes(StandardCharsets.UTF_8)));
        server.createContext("/generate", ex -> {
            try {
                if (!ex.getRequestMethod().equals("POST")) { error(ex, 405, "use POST with a JSON body"); return; }
                JsonNode body = body(ex.getRequestBody());
                GenerationRequest request = parse(body);
                int previewEvery = body.has("preview_every") ? integer(body, "preview_every", 1, 1000) : 0;
                workers.execute(() -> {
                    try {
                        preview.set(null);
                        GenerationResult r = pipeline.generate(request, new Progress() {
                            @Override public int previewEvery() { return previewEvery; }
                            @Override public void preview(int step, dev.tornadodiffusion.tensor.Tensor images) {
                                try {
                                    preview.set(Png.encode(images.select(0, 0), java.util.Map.of("parameters", "preview after step " + step)));
                                } catch (IOException ignored) {
                                    // a preview that cannot be encoded is skipped
                                }
                            }
                        });
                        send(ex, 200, "image/png", Png.encode(r.image(0), r.parameters()));
                    } catch (IllegalArgumentException e) {
                        error(ex, 400, e.getMessage());
                    } catch (Exception | OutOfMemoryError e) {
                        error(ex, 500, "generation failed: " + e);
                    }
                });
            } catch (RejectedExecutionException e) {
                error(ex, 429, "the queue is full; try again later");
            } catch (IllegalArgumentException e) {
                error(ex, 400, e.getMessage());
            }
        });
        server.start();
        return server;
    }

    private static JsonNode body(InputStream body) throws IOException {
        byte[] bytes = body.readNBytes(MAX_BODY + 1);
        if (bytes.length > MAX_BODY) throw new IllegalArgumentException("request body over " + MAX_BODY + " bytes");
        return Json.parse(new String(bytes, StandardCharsets.UTF_8), "request body");
    }

    static GenerationRequest parse(JsonNode j) {
        for (Iterator<String> it = j.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!FIELDS.contains(f)) throw new IllegalArgumentException("unknown field '" + f + "' (known: " + String.join(", ", FIELDS) + ")");
        }
        if (!j.path("prompt").isTextual()) throw new IllegalArgumentException("'prompt' (a string) is required");
        GenerationRequest.Builder b = GenerationRequest.builder(j.get("prompt").asText());
        if (j.has("negative_prompt")) b.negativePrompt(text(j, "negative_prompt"));
        if (j.has("sampler")) b.sampler(text(j, "sampler"));
        if (j.has("sampler_name")) b.sampler(text(j, "sampler_name")); // A1111's field: "DPM++ 2M Karras", "Euler a", ...
        if (j.has("literal_prompt")) {
            if (!j.get("literal_prompt").isBoolean()) bad("literal_prompt", "true or false");
            b.literalPrompt(j.get("literal_prompt").asBoolean());
        }
        if (j.has("init_image")) b.initImage(image(j, "init_image"));
        if (j.has("mask")) b.mask(image(j, "mask"));
        if (j.has("denoising_strength")) b.strength((float) number(j, "denoising_strength"));
        else if (j.has("mask")) b.strength(1f);
        if (j.has("steps")) b.steps(integer(j, "steps", 1, 500));
        if (j.has("width")) b.width(integer(j, "width", 8, 4096));
        if (j.has("height")) b.height(integer(j, "height", 8, 4096));
        if (j.has("seed")) b.seed(j.get("seed").canConvertToLong() ? j.get("seed").asLong() : bad("seed", "an integer"));
        if (j.has("guidance_scale")) b.guidanceScale((float) number(j, "guidance_scale"));
        if (j.has("guidance_rescale")) b.guidanceRescale((float) number(j, "guidance_rescale"));
        return b.build();
    }

    /** A base64 image (PNG, JPEG, ...; a "data:image/...;base64," prefix allowed) as [H, W, 3] in [0, 1]. */
    private static dev.tornadodiffusion.tensor.Tensor image(JsonNode j, String f) {
        String data = text(j, f);
        int comma = data.startsWith("data:") ? data.indexOf(',') : -1;
        try {
            return Images.decode(java.util.Base64.getDecoder().decode(data.substring(comma + 1)), "'" + f + "'");
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'" + f + "' must be a base64 image: " + e.getMessage());
        } catch (IOException e) {
            throw new IllegalArgumentException("'" + f + "' could not be read: " + e.getMessage());
        }
    }

    private static String text(JsonNode j, String f) {
        if (!j.get(f).isTextual()) bad(f, "a string");
        return j.get(f).asText();
    }

    private static int integer(JsonNode j, String f, int min, int max) {
        JsonNode v = j.get(f);
        if (!v.isIntegralNumber() || v.asLong() < min || v.asLong() > max) bad(f, "an integer in " + min + ".." + max);
        return v.asInt();
    }

    private static double number(JsonNode j, String f) {
        if (!j.get(f).isNumber()) bad(f, "a number");
        return j.get(f).asDouble();
    }

    private static long bad(String field, String what) {
        throw new IllegalArgumentException("'" + field + "' must be " + what);
    }

    private static void error(HttpExchange ex, int status, String message) {
        send(ex, status, "application/json", ("{\"error\":" + json(message) + "}").getBytes(StandardCharsets.UTF_8));
    }

    private static void send(HttpExchange ex, int status, String type, byte[] body) {
        try (ex) {
            ex.getResponseHeaders().set("Content-Type", type);
            ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
            ex.getResponseBody().write(body);
        } catch (IOException ignored) {
            // the client went away; nothing to tell it
        }
    }

    private static String json(String s) {
        try {
            return new ObjectMapper().writeValueAsString(s);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
