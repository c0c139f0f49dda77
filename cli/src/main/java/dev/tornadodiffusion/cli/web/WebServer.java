package dev.tornadodiffusion.cli.web;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpContext;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import dev.tornadodiffusion.diffusion.pipelines.GenerationRequest;
import dev.tornadodiffusion.diffusion.pipelines.Pipeline;
import dev.tornadodiffusion.cli.MemoryEstimate;
import dev.tornadodiffusion.cli.bench.PeakMemory;
import dev.tornadodiffusion.diffusion.schedulers.Samplers;
import dev.tornadodiffusion.weights.Json;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;

/**
 * {@code diffuse serve}'s HTTP side on the JDK's HttpServer: the page at {@code /} (plain HTML/CSS/JS resources),
 * its job API ({@code /api/...}: submit, Server-Sent Events progress with step previews, images, cancel),
 * {@code POST /generate} (JSON in, PNG out) and the A1111 subset ({@link A1111Api}). Every route shares one
 * {@link JobQueue}; every request gets an access log line.
 */
public final class WebServer {
    /**
     * Per-server limits: waiting jobs, pixels per job (width x height x images), the work of a job (pixels x steps),
     * seconds a job may run (0: none), the memory a job may need by {@link MemoryEstimate} (0: what the machine has free).
     */
    public record Limits(int queue, long maxPixels, double timeLimitSeconds, long maxPixelSteps, long maxMemory) {
        public static final long DEFAULT_MAX_PIXELS = 4L * 1024 * 1024;
        public static final double DEFAULT_TIME_LIMIT = 600;
        /** 150 steps of the largest job. */
        public static final long DEFAULT_STEPS = 150;

        public Limits(int queue, long maxPixels, double timeLimitSeconds) {
            this(queue, maxPixels, timeLimitSeconds, maxPixels * DEFAULT_STEPS, 0);
        }
    }

    /** What the page and the A1111 model list show about the loaded model. */
    record Model(Path folder, String pipelineClass, String description, boolean randomWeights, int width, int height) {}

    static final int MAX_BODY = 64 * 1024;
    private static final Map<String, String> RESOURCES = Map.of("/", "index.html", "/index.html", "index.html",
            "/app.js", "app.js", "/style.css", "style.css");

    final Pipeline pipeline;
    final Model model;
    final Limits limits;
    final JobQueue jobs;
    final List<Samplers.Sampler> samplers;

    private WebServer(Pipeline pipeline, Path folder, Limits limits) throws IOException {
        this.pipeline = pipeline;
        Path index = folder.resolve("model_index.json");
        var mi = Files.isRegularFile(index) ? Json.read(index) : Http.object();
        String cls = mi.path("_class_name").asText("");
        this.model = new Model(folder, cls, pipeline.description(), mi.path("_random_weights").asBoolean(false), pipeline.defaultWidth(), pipeline.defaultHeight());
        this.limits = limits;
        this.samplers = Samplers.forPipeline(cls);
        this.jobs = new JobQueue(pipeline, LatentPreview.forModel(folder), limits.queue(), limits.timeLimitSeconds());
    }

    /** Starts serving {@code pipeline} (loaded from {@code folder}) on host:port (0: any free port); access log to {@code log}. */
    public static HttpServer start(Pipeline pipeline, Path folder, String host, int port, Limits limits, PrintStream log) throws IOException {
        WebServer web = new WebServer(pipeline, folder, limits);
        HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 0);
        // handlers wait for jobs and hold progress streams open: one virtual thread each
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        A1111Api a1111 = new A1111Api(web);
        route(server, log, "/", web::page);
        route(server, log, "/health", ex -> Http.json(ex, 200, Http.object().put("model", pipeline.description())));
        route(server, log, "/generate", web::generate);
        route(server, log, "/api/info", web::info);
        route(server, log, "/api/jobs", web::jobs);
        route(server, log, "/sdapi/v1/", a1111::handle);
        server.start();
        return server;
    }

    private interface Route {
        void handle(HttpExchange ex) throws Exception;
    }

    private static void route(HttpServer server, PrintStream log, String path, Route route) {
        HttpHandler h = ex -> {
            try {
                route.handle(ex);
            } catch (Http.Refused e) {
                Http.error(ex, e.status, e.getMessage());
            } catch (JobQueue.QueueFullException e) {
                Http.error(ex, 429, e.getMessage());
            } catch (Exception e) {
                Http.error(ex, 500, "internal error: " + e);
            }
        };
        HttpContext c = server.createContext(path, h);
        c.getFilters().add(Http.accessLog(log));
    }

    // ---- the page

    private void page(HttpExchange ex) throws IOException {
        String name = RESOURCES.get(ex.getRequestURI().getPath());
        if (name == null) throw new Http.Refused(404, "no such page: " + ex.getRequestURI().getPath());
        Http.requireMethod(ex, "GET");
        try (InputStream in = WebServer.class.getResourceAsStream(name)) {
            String type = name.endsWith(".js") ? "text/javascript" : name.endsWith(".css") ? "text/css" : "text/html";
            Http.send(ex, 200, type + "; charset=utf-8", in.readAllBytes());
        }
    }

    private void info(HttpExchange ex) {
        Http.requireMethod(ex, "GET");
        ObjectNode o = Http.object();
        o.put("model", model.folder.getFileName().toString()).put("description", model.description)
                .put("random_weights", model.randomWeights).put("width", model.width).put("height", model.height)
                .put("queue", limits.queue()).put("max_pixels", limits.maxPixels()).put("time_limit_s", limits.timeLimitSeconds());
        ArrayNode s = o.putArray("samplers");
        for (Samplers.Sampler sm : samplers) s.addObject().put("name", sm.name()).put("id", sm.id());
        Http.json(ex, 200, o);
    }

    // ---- jobs: POST /api/jobs, GET /api/jobs/{id}, /events, /images/{i}.png, POST /api/jobs/{id}/cancel

    private void jobs(HttpExchange ex) throws Exception {
        String[] parts = ex.getRequestURI().getPath().substring("/api/jobs".length()).split("/");
        if (parts.length <= 1) {
            Http.requireMethod(ex, "POST");
            GenerationRequest r = RequestJson.parse(Http.body(ex, MAX_BODY));
            Job job = submit(List.of(r));
            Http.json(ex, 202, Http.object().put("id", job.id()).put("position", jobs.position(job)).put("seed", r.seed()));
            return;
        }
        Job job = job(parts[1]);
        String what = parts.length > 2 ? parts[2] : "";
        switch (what) {
            case "" -> { Http.requireMethod(ex, "GET"); Http.json(ex, 200, status(job, job.snapshot(), false)); }
            case "events" -> { Http.requireMethod(ex, "GET"); events(ex, job); }
            case "cancel" -> {
                Http.requireMethod(ex, "POST");
                jobs.cancel(job, "cancelled by the user");
                Http.json(ex, 200, Http.object().put("cancelled", job.id()));
            }
            case "images" -> {
                Http.requireMethod(ex, "GET");
                List<Job.Image> images = job.snapshot().images();
                int i = parts.length == 4 && parts[3].matches("\\d{1,4}\\.png") ? Integer.parseInt(parts[3].replace(".png", "")) : -1;
                if (i < 0 || i >= images.size()) throw new Http.Refused(404, "job " + job.id() + " has no image '" + (parts.length > 3 ? parts[3] : "") + "'");
                ex.getResponseHeaders().set("Content-Disposition", "inline; filename=\"td-" + job.id() + "-" + i + ".png\"");
                Http.send(ex, 200, "image/png", images.get(i).png());
            }
            default -> throw new Http.Refused(404, "no such job resource: " + what);
        }
    }

    private Job job(String id) {
        Job job = id.matches("\\d{1,18}") ? jobs.find(Long.parseLong(id)) : null;
        if (job == null) throw new Http.Refused(404, "no job '" + id + "' (finished jobs are kept for the last " + JobQueue.KEEP + ")");
        return job;
    }

    /** Checks a job against the server's limits before it is queued. */
    Job submit(List<GenerationRequest> requests) throws JobQueue.QueueFullException {
        long pixels = 0;
        for (GenerationRequest r : requests)
            pixels += (long) (r.width() == null ? model.width : r.width()) * (r.height() == null ? model.height : r.height()) * r.batch();
        if (pixels > limits.maxPixels())
            throw new Http.Refused(400, "the request asks for " + pixels + " pixels (width x height x images), over this server's limit of "
                    + limits.maxPixels() + " per job (serve --max-pixels); ask for fewer or smaller images");
        long work = 0;
        for (GenerationRequest r : requests)
            work += (long) (r.width() == null ? model.width : r.width()) * (r.height() == null ? model.height : r.height()) * r.batch()
                    * (r.steps() == null ? 50 : r.steps());   // diffusers' default steps
        if (work > limits.maxPixelSteps())
            throw new Http.Refused(400, "the request asks for " + work + " pixel-steps (width x height x images x steps), over this server's limit of "
                    + limits.maxPixelSteps() + " per job (serve --max-pixel-steps); ask for fewer steps or smaller images");
        for (GenerationRequest r : requests) checkMemory(r);
        return jobs.submit(oneSeedPerImage(requests));
    }

    /** As A1111 and {@code generate --batch}: image i of a batch is the image of seed + i alone, so its PNG's seed makes it again. */
    static List<GenerationRequest> oneSeedPerImage(List<GenerationRequest> requests) {
        List<GenerationRequest> each = new java.util.ArrayList<>();
        for (GenerationRequest r : requests)
            for (int i = 0; i < r.batch(); i++) each.add(r.batch() == 1 ? r : r.toBuilder().seed(r.seed() + i).batch(1).build());
        return each;
    }

    /** A request whose estimated memory cannot fit the server's limit or the machine is refused before it is queued. */
    private void checkMemory(GenerationRequest r) {
        try {
            MemoryEstimate e = MemoryEstimate.forPipeline(model.folder(), r.width() == null ? model.width : r.width(),
                    r.height() == null ? model.height : r.height(), r.batch(), r.guidanceScale() == null || r.guidanceScale() > 1, null);
            if (limits.maxMemory() > 0) e.check(limits.maxMemory(), "this server's limit (serve --max-memory)");
            e.checkMachine(PeakMemory.resident("VmRSS"));
        } catch (IllegalStateException e) {
            throw new Http.Refused(400, e.getMessage());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The job's state as JSON; image URLs when done, the preview as a data URL when asked. */
    ObjectNode status(Job job, Job.Snapshot s, boolean withPreview) {
        ObjectNode o = Http.object().put("id", job.id()).put("state", s.state().name().toLowerCase()).put("position", jobs.position(job))
                .put("step", s.step()).put("total", s.totalSteps()).put("progress", s.fraction());
        if (Double.isFinite(s.etaSeconds())) o.put("eta_s", s.etaSeconds());
        if (withPreview && s.preview() != null) o.put("preview", "data:image/png;base64," + Base64.getEncoder().encodeToString(s.preview()));
        if (s.error() != null) o.put("error", s.error()).put("status", s.errorStatus());
        ArrayNode images = o.putArray("images");
        for (int i = 0; i < s.images().size(); i++)
            images.addObject().put("url", "/api/jobs/" + job.id() + "/images/" + i + ".png").put("parameters", s.images().get(i).parameters())
                    .put("seed", s.images().get(i).seed());
        return o;
    }

    /** Server-Sent Events: one "status" event per change (at most every step), a comment every 5 s; a closed page cancels its job. */
    private void events(HttpExchange ex, Job job) throws IOException, InterruptedException {
        ex.getResponseHeaders().set("Content-Type", "text/event-stream");
        ex.getResponseHeaders().set("Cache-Control", "no-store");
        ex.sendResponseHeaders(200, 0);
        jobs.watch(job);
        boolean finished = false;
        try (OutputStream out = ex.getResponseBody()) {
            long seen = -1;
            byte[] sentPreview = null;
            while (!finished) {
                Job.Snapshot s = job.awaitChange(seen, 5000);
                if (s.version() == seen) {
                    out.write(": waiting\n\n".getBytes(StandardCharsets.US_ASCII));
                } else {
                    seen = s.version();
                    ObjectNode o = status(job, s, s.preview() != sentPreview);
                    sentPreview = s.preview();
                    out.write(("event: status\ndata: " + Http.JSON.writeValueAsString(o) + "\n\n").getBytes(StandardCharsets.UTF_8));
                    finished = s.finished();
                }
                out.flush();
            }
        } catch (IOException e) {
            // the page went away
        } finally {
            jobs.unwatch(job, "the page that started it was closed");
        }
        ex.close();
    }

    // ---- POST /generate: JSON in, PNG out

    private void generate(HttpExchange ex) throws Exception {
        Http.requireMethod(ex, "POST");
        GenerationRequest r = RequestJson.parse(Http.body(ex, MAX_BODY));
        Job job = submit(List.of(r));
        // nothing is sent before the PNG, so the kernel's view of the connection tells whether the client is still there
        Job.Snapshot s = job.snapshot();
        while (!s.finished()) {
            s = job.awaitChange(s.version(), 1000);
            if (!s.finished() && ClientConnection.closedByPeer(ex)) {
                jobs.cancel(job, "the client went away");
                ex.close();
                return;
            }
        }
        if (s.state() != Job.State.DONE) throw new Http.Refused(s.errorStatus() == 499 ? 503 : s.errorStatus(), s.error());
        Http.send(ex, 200, "image/png", s.images().get(0).png());
    }

    static Job.Snapshot await(Job job) throws InterruptedException {
        Job.Snapshot s = job.snapshot();
        while (!s.finished()) s = job.awaitChange(s.version(), 60_000);
        return s;
    }
}
