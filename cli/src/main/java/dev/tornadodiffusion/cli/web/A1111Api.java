package dev.tornadodiffusion.cli.web;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import dev.tornadodiffusion.diffusion.pipelines.GenerationRequest;
import dev.tornadodiffusion.cli.Images;
import dev.tornadodiffusion.diffusion.schedulers.Samplers;
import dev.tornadodiffusion.tensor.Tensor;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The common subset of AUTOMATIC1111's web UI API ({@code /sdapi/v1/...}), with A1111's field names and defaults:
 * txt2img and img2img (base64 PNGs, {@code info} as a JSON string), samplers, sd-models, progress (with the current
 * preview) and interrupt. Fields outside the subset are ignored and named in {@code info} ("ignored_fields", "comments").
 *
 * <p>Seeds: seed -1 is random; as in A1111 the images of n_iter batches of batch_size have seeds seed, seed + 1, ...,
 * each the image of its seed alone ({@link WebServer#oneSeedPerImage}), which "all_seeds" and each infotext report.
 * Once a job is queued the answer is committed as 200 and blank space is sent every second while it runs (valid
 * JSON whitespace), so a client that goes away is noticed and its job cancelled; an error after that point comes
 * as {@code {"error": ..., "detail": ...}} in the body.
 */
final class A1111Api {
    private static final int MAX_BODY = 48 * 1024 * 1024;
    private static final int MAX_INIT_SIDE = 8192;
    private static final Set<String> USED = Set.of("prompt", "negative_prompt", "seed", "sampler_name", "sampler_index", "scheduler",
            "batch_size", "n_iter", "steps", "cfg_scale", "width", "height", "send_images", "override_settings");
    private static final Set<String> USED_IMG2IMG = Set.of("init_images", "denoising_strength", "resize_mode");

    private final WebServer web;

    A1111Api(WebServer web) { this.web = web; }

    void handle(HttpExchange ex) throws Exception {
        String path = ex.getRequestURI().getPath().substring("/sdapi/v1/".length());
        switch (path) {
            case "txt2img" -> generate(ex, false);
            case "img2img" -> generate(ex, true);
            case "samplers" -> { Http.requireMethod(ex, "GET"); Http.json(ex, 200, samplers()); }
            case "sd-models" -> { Http.requireMethod(ex, "GET"); Http.json(ex, 200, models()); }
            case "progress" -> { Http.requireMethod(ex, "GET"); Http.json(ex, 200, progress(ex.getRequestURI().getQuery())); }
            case "interrupt" -> {
                Http.requireMethod(ex, "POST");
                Job job = web.jobs.current();
                if (job != null) web.jobs.cancel(job, "interrupted");
                Http.json(ex, 200, Http.object());
            }
            default -> throw new Http.Refused(404, "not in this server's A1111 subset: /sdapi/v1/" + path
                    + " (it has txt2img, img2img, samplers, sd-models, progress, interrupt)");
        }
    }

    private ArrayNode samplers() {
        ArrayNode a = Http.JSON.createArrayNode();
        for (Samplers.Sampler s : web.samplers) {
            ObjectNode o = a.addObject().put("name", s.name());
            ArrayNode aliases = o.putArray("aliases");
            aliases.add(s.id());
            s.aliases().forEach(aliases::add);
            o.putObject("options");
        }
        return a;
    }

    private ArrayNode models() {
        String name = web.model.folder().getFileName().toString();
        ArrayNode a = Http.JSON.createArrayNode();
        a.addObject().put("title", name).put("model_name", name).putNull("hash").putNull("sha256")
                .put("filename", web.model.folder().toAbsolutePath().toString()).putNull("config");
        return a;
    }

    private ObjectNode progress(String query) {
        boolean skipImage = query != null && query.contains("skip_current_image=true");
        Job job = web.jobs.current();
        Job.Snapshot s = job == null ? null : job.snapshot();
        boolean active = s != null && !s.finished();
        ObjectNode o = Http.object().put("progress", active ? s.fraction() : 0)
                .put("eta_relative", active && Double.isFinite(s.etaSeconds()) ? s.etaSeconds() : 0);
        o.putObject("state").put("skipped", false).put("interrupted", s != null && s.state() == Job.State.CANCELLED)
                .put("job", active ? "job " + job.id() : "").put("job_count", active ? 1 : 0).put("job_timestamp", "0")
                .put("job_no", 0).put("sampling_step", active ? s.step() : 0).put("sampling_steps", active ? s.totalSteps() : 0);
        if (active && !skipImage && s.preview() != null) o.put("current_image", Base64.getEncoder().encodeToString(s.preview()));
        else o.putNull("current_image");
        if (active) o.put("textinfo", s.state() == Job.State.QUEUED ? "waiting" : "step " + s.step() + "/" + s.totalSteps());
        else o.putNull("textinfo");
        return o;
    }

    /** What an A1111 request asks for, with A1111's defaults filled in. */
    private record Settings(String prompt, String negative, long seed, Samplers.Sampler sampler, int batch, int iterations, int steps,
                            double cfg, int width, int height, double strength, Tensor init, int clipSkip, boolean sendImages,
                            List<String> ignored) {}

    private Settings settings(JsonNode j, boolean img2img) throws IOException {
        if (!j.isObject()) throw new Http.Refused(422, "the request body must be a JSON object");
        List<String> ignored = new ArrayList<>();
        for (Iterator<String> it = j.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!USED.contains(f) && !(img2img && USED_IMG2IMG.contains(f))) ignored.add(f);
        }
        String prompt = j.path("prompt").isNull() ? "" : j.has("prompt") ? RequestJson.text(j, "prompt") : "";
        String negative = j.path("negative_prompt").isNull() ? "" : j.has("negative_prompt") ? RequestJson.text(j, "negative_prompt") : "";
        String samplerName = j.path("sampler_name").isTextual() && !j.get("sampler_name").asText().isEmpty() ? j.get("sampler_name").asText()
                : j.path("sampler_index").isTextual() && !j.get("sampler_index").asText().isEmpty() ? j.get("sampler_index").asText() : "Euler";
        String scheduler = j.path("scheduler").asText("");
        if (scheduler.equalsIgnoreCase("karras") && samplerName.equalsIgnoreCase("DPM++ 2M")) samplerName = "DPM++ 2M Karras";
        else if (!scheduler.isEmpty() && !scheduler.equalsIgnoreCase("automatic")) ignored.add("scheduler");
        Samplers.Sampler sampler = Samplers.find(web.samplers, samplerName);
        if (sampler == null) {
            if (j.has("sampler_name") || j.has("sampler_index"))
                throw new Http.Refused(404, "Sampler not found: '" + samplerName + "' (this server has: "
                        + String.join(", ", web.samplers.stream().map(Samplers.Sampler::name).toList()) + ")");
            sampler = null;  // A1111's default "Euler" is not offered by this pipeline: its own sampler then
        }
        int clipSkip = 0;
        JsonNode overrides = j.path("override_settings");
        if (overrides.isObject()) {
            for (Iterator<String> it = overrides.fieldNames(); it.hasNext(); ) {
                String f = it.next();
                if (f.equals("CLIP_stop_at_last_layers")) clipSkip = RequestJson.integer(overrides, f, 1, 12) - 1;
                else ignored.add("override_settings." + f);
            }
        }
        Tensor init = null;
        int width = j.has("width") ? RequestJson.integer(j, "width", 8, 4096) : 512;
        int height = j.has("height") ? RequestJson.integer(j, "height", 8, 4096) : 512;
        double strength = 0.75;
        if (img2img) {
            JsonNode images = j.path("init_images");
            if (!images.isArray() || images.isEmpty() || !images.get(0).isTextual())
                throw new Http.Refused(422, "'init_images' must be a list with one base64 image");
            if (images.size() > 1) ignored.add("init_images[1:]");
            if (j.has("resize_mode") && j.get("resize_mode").asInt(-1) != 0) ignored.add("resize_mode");
            // A1111's resize_mode 0 ("just resize"): the pipeline stretches the image to width x height (Lanczos, as A1111)
            init = Images.toTensor(decodeImage(images.get(0).asText()));
            if (j.has("denoising_strength")) strength = RequestJson.number(j, "denoising_strength", 0, 1);
            if (strength == 0) throw new Http.Refused(422, "'denoising_strength' 0 leaves the image as it is; use a value in (0, 1]");
        }
        return new Settings(prompt, negative, RequestJson.seed(j.path("seed"), "seed"), sampler,
                j.has("batch_size") ? RequestJson.integer(j, "batch_size", 1, 64) : 1,
                j.has("n_iter") ? RequestJson.integer(j, "n_iter", 1, 100) : 1,
                j.has("steps") ? RequestJson.integer(j, "steps", 1, 500) : 50,
                j.has("cfg_scale") ? RequestJson.number(j, "cfg_scale", 0, 100) : 7.0,
                width, height, strength, init, clipSkip, !j.has("send_images") || j.get("send_images").asBoolean(true), ignored);
    }

    private void generate(HttpExchange ex, boolean img2img) throws Exception {
        Http.requireMethod(ex, "POST");
        JsonNode body = Http.body(ex, MAX_BODY);
        Settings s = settings(body, img2img);
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; i < s.iterations; i++) {
            GenerationRequest.Builder b = GenerationRequest.builder(s.prompt).negativePrompt(s.negative.isEmpty() ? null : s.negative)
                    .seed(s.seed + (long) i * s.batch).batch(s.batch).steps(s.steps).guidanceScale((float) s.cfg)
                    .width(s.width).height(s.height).clipSkip(s.clipSkip).sampler(s.sampler == null ? null : s.sampler.id());
            if (s.init != null) b.initImage(s.init).strength((float) s.strength);
            requests.add(RequestJson.build(b));
        }
        Job job = web.submit(requests);
        String timestamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMddHHmmss"));

        // committed: keep the connection watched while the job waits and runs
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(200, 0);
        Job.Snapshot snap = job.snapshot();
        try (OutputStream out = ex.getResponseBody()) {
            while (!snap.finished()) {
                snap = job.awaitChange(snap.version(), 1000);
                out.write(' ');
                out.flush();
            }
            ObjectNode answer = snap.state() == Job.State.FAILED
                    ? Http.object().put("error", statusName(snap.errorStatus())).put("detail", snap.error())
                    : response(body, s, snap, img2img, timestamp);
            out.write(Http.JSON.writeValueAsBytes(answer));
        } catch (IOException e) {
            web.jobs.cancel(job, "the client went away");
        }
        ex.close();
    }

    private static String statusName(int status) {
        return switch (status) {
            case 400 -> "Bad Request";
            case 503 -> "Time Limit";
            case 507 -> "Out Of Memory";
            default -> "Internal Error";
        };
    }

    private ObjectNode response(JsonNode body, Settings s, Job.Snapshot snap, boolean img2img, String timestamp) throws IOException {
        ObjectNode o = Http.object();
        ArrayNode images = o.putArray("images");
        if (s.sendImages) for (Job.Image im : snap.images()) images.add(Base64.getEncoder().encodeToString(im.png()));
        ObjectNode parameters = body.deepCopy();
        parameters.put("prompt", s.prompt).put("negative_prompt", s.negative).put("seed", s.seed).put("batch_size", s.batch)
                .put("n_iter", s.iterations).put("steps", s.steps).put("cfg_scale", s.cfg).put("width", s.width).put("height", s.height);
        if (s.sampler != null) parameters.put("sampler_name", s.sampler.name());
        if (img2img) parameters.put("denoising_strength", s.strength).putNull("init_images");
        o.set("parameters", parameters);

        int n = snap.images().size();
        ObjectNode info = Http.object().put("prompt", s.prompt);
        ArrayNode prompts = info.putArray("all_prompts"), negatives = info.putArray("all_negative_prompts"), seeds = info.putArray("all_seeds"),
                subseeds = info.putArray("all_subseeds"), infotexts = info.putArray("infotexts");
        for (Job.Image im : snap.images()) {
            prompts.add(s.prompt);
            negatives.add(s.negative);
            seeds.add(im.seed());
            subseeds.add(-1);
            infotexts.add(im.parameters());
        }
        info.put("negative_prompt", s.negative).put("seed", s.seed).put("subseed", -1).put("subseed_strength", 0)
                .put("width", s.width).put("height", s.height).put("sampler_name", s.sampler == null ? sampler(snap) : s.sampler.name())
                .put("cfg_scale", s.cfg).put("steps", s.steps).put("batch_size", s.batch).put("restore_faces", false)
                .putNull("face_restoration_model").put("sd_model_name", web.model.folder().getFileName().toString()).putNull("sd_model_hash")
                .putNull("sd_vae_name").putNull("sd_vae_hash").put("seed_resize_from_w", -1).put("seed_resize_from_h", -1)
                .put("denoising_strength", img2img ? s.strength : 0);
        info.putObject("extra_generation_params");
        info.put("index_of_first_image", 0).put("job_timestamp", timestamp).put("clip_skip", s.clipSkip + 1)
                .put("is_using_inpainting_conditioning", false).put("version", "tornado-diffusion");
        info.putArray("styles");
        ArrayNode ignored = info.putArray("ignored_fields");
        new TreeSet<>(s.ignored).forEach(ignored::add);
        StringBuilder comments = new StringBuilder();
        if (!s.ignored.isEmpty()) comments.append("ignored (not supported by this server): ").append(String.join(", ", new TreeSet<>(s.ignored))).append('\n');
        if (snap.state() == Job.State.CANCELLED) comments.append("interrupted after ").append(n).append(" image(s): ").append(snap.error()).append('\n');
        info.put("comments", comments.toString());
        o.put("info", Http.JSON.writeValueAsString(info));
        return o;
    }

    /** The sampler the parameters text names, when the request left it to the pipeline. */
    private static String sampler(Job.Snapshot snap) {
        if (snap.images().isEmpty()) return "";
        var m = java.util.regex.Pattern.compile("Sampler: ([^,]+)").matcher(snap.images().get(0).parameters());
        return m.find() ? m.group(1) : "";
    }

    /** A1111 accepts plain base64 and data URLs ("data:image/png;base64,..."); the size is checked before decoding. */
    static BufferedImage decodeImage(String b64) throws IOException {
        int comma = b64.startsWith("data:") ? b64.indexOf(',') : -1;
        byte[] bytes;
        try {
            bytes = Base64.getMimeDecoder().decode(b64.substring(comma + 1));
        } catch (IllegalArgumentException e) {
            throw new Http.Refused(422, "init image: not base64 (" + e.getMessage() + ")");
        }
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) throw new Http.Refused(422, "init image: not an image ImageIO can read (PNG, JPEG, BMP, GIF)");
            ImageReader reader = readers.next();
            try {
                reader.setInput(in);
                int w = reader.getWidth(0), h = reader.getHeight(0);
                if (w > MAX_INIT_SIDE || h > MAX_INIT_SIDE) throw new Http.Refused(422, "init image is " + w + "x" + h + ", over " + MAX_INIT_SIDE + " pixels a side");
                return reader.read(0);
            } finally {
                reader.dispose();
            }
        } catch (IOException e) {
            throw new Http.Refused(422, "init image: cannot be read (" + e.getMessage() + ")");
        }
    }
}
