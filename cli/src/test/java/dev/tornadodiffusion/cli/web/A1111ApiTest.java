package dev.tornadodiffusion.cli.web;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The A1111 subset against the request/response shapes A1111's API documents (modules/api/models.py). */
class A1111ApiTest {
    static TinyServer s;

    @BeforeAll
    static void start() throws Exception { s = new TinyServer(2, WebServer.Limits.DEFAULT_MAX_PIXELS, 120); }

    @AfterAll
    static void stop() { s.close(); }

    static JsonNode info(JsonNode answer) throws Exception { return Http.JSON.readTree(answer.get("info").asText()); }

    @Test
    void txt2imgAnswersImagesParametersAndInfo() throws Exception {
        JsonNode r = s.json("POST", "/sdapi/v1/txt2img", "{\"prompt\": \"a red fox\", \"negative_prompt\": \"blur\", \"steps\": 3, \"width\": 32,"
                + " \"height\": 24, \"seed\": 7, \"batch_size\": 2, \"sampler_name\": \"Euler a\", \"restore_faces\": false, \"colour\": \"red\"}", 200);
        assertEquals(2, r.get("images").size());
        for (int i = 0; i < 2; i++) {
            byte[] png = Base64.getDecoder().decode(r.get("images").get(i).asText());
            assertEquals(32, TinyServer.png(png).getWidth());
            assertEquals(24, TinyServer.png(png).getHeight());
            assertTrue(TinyServer.parameters(png).contains("Seed: " + (7 + i) + ","), TinyServer.parameters(png));
            assertFalse(TinyServer.parameters(png).contains("Batch size"), "the image's own seed makes it alone: " + TinyServer.parameters(png));
        }
        JsonNode p = r.get("parameters");
        assertEquals(3, p.get("steps").asInt());
        assertEquals("Euler a", p.get("sampler_name").asText());
        assertEquals(7.0, p.get("cfg_scale").asDouble(), "A1111's default cfg_scale");
        JsonNode info = info(r);
        assertEquals("a red fox", info.get("prompt").asText());
        assertEquals("blur", info.get("negative_prompt").asText());
        assertEquals(7, info.get("seed").asLong());
        assertEquals("[7,8]", info.get("all_seeds").toString(), "image i of a batch has seed + i, as in A1111");
        assertEquals(2, info.get("infotexts").size());
        assertEquals("Euler a", info.get("sampler_name").asText());
        assertEquals("tiny-sd", info.get("sd_model_name").asText());
        assertEquals("[\"colour\",\"restore_faces\"]", info.get("ignored_fields").toString());
        assertTrue(info.get("comments").asText().contains("ignored (not supported by this server): colour, restore_faces"), info.toString());
    }

    @Test
    void defaultsAndIterationsFollowA1111() throws Exception {
        JsonNode r = s.json("POST", "/sdapi/v1/txt2img", "{\"prompt\": \"x\", \"steps\": 2, \"width\": 16, \"height\": 16, \"n_iter\": 2, \"seed\": 100}", 200);
        JsonNode info = info(r);
        assertEquals("[100,101]", info.get("all_seeds").toString(), "each iteration moves the seed by batch_size");
        assertEquals("Euler", info.get("sampler_name").asText(), "sampler_index defaults to Euler");
        assertEquals(7.0, info.get("cfg_scale").asDouble());
        assertEquals("[]", info.get("ignored_fields").toString());
        JsonNode random = info(s.json("POST", "/sdapi/v1/txt2img", "{\"prompt\": \"x\", \"steps\": 1, \"width\": 16, \"height\": 16, \"seed\": -1}", 200));
        long seed = random.get("seed").asLong();
        assertTrue(seed >= 0 && seed < (1L << 32), "seed -1 becomes a random seed, reported: " + seed);
        assertTrue(random.get("infotexts").get(0).asText().contains("Seed: " + seed));
        JsonNode hidden = s.json("POST", "/sdapi/v1/txt2img", "{\"prompt\": \"x\", \"steps\": 1, \"width\": 16, \"height\": 16, \"send_images\": false}", 200);
        assertEquals(0, hidden.get("images").size());
    }

    @Test
    void img2imgTakesABase64InitImage() throws Exception {
        BufferedImage init = new BufferedImage(40, 24, BufferedImage.TYPE_INT_RGB);
        var g = init.createGraphics();
        g.setColor(Color.ORANGE);
        g.fillRect(0, 0, 20, 24);
        g.dispose();
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(init, "png", png);
        String b64 = Base64.getEncoder().encodeToString(png.toByteArray());
        for (String image : List.of(b64, "data:image/png;base64," + b64)) {
            JsonNode r = s.json("POST", "/sdapi/v1/img2img", "{\"init_images\": [\"" + image + "\"], \"prompt\": \"x\", \"steps\": 4,"
                    + " \"width\": 32, \"height\": 32, \"denoising_strength\": 0.5, \"seed\": 1, \"mask\": null}", 200);
            assertEquals(32, TinyServer.png(Base64.getDecoder().decode(r.get("images").get(0).asText())).getWidth());
            assertTrue(r.get("parameters").get("init_images").isNull(), "A1111 does not echo the init images");
            JsonNode info = info(r);
            assertEquals(0.5, info.get("denoising_strength").asDouble());
            assertTrue(info.get("infotexts").get(0).asText().contains("Denoising strength: 0.5"), info.toString());
            assertEquals("[\"mask\"]", info.get("ignored_fields").toString());
        }
    }

    @Test
    void samplersAndModelsListWhatTheServerHas() throws Exception {
        JsonNode samplers = s.json("GET", "/sdapi/v1/samplers", null, 200);
        List<String> names = new ArrayList<>();
        for (JsonNode x : samplers) {
            names.add(x.get("name").asText());
            assertTrue(x.get("aliases").isArray() && x.get("options").isObject(), x.toString());
        }
        // the schedulers' one table: every sampler generate runs, the Karras variants apart as A1111 lists them
        assertTrue(names.containsAll(List.of("Euler a", "Euler", "DPM++ 2M", "DDIM", "DPM2 a", "DPM++ 2M SDE Karras", "TCD")), names.toString());
        for (String name : names)  // every listed sampler runs
            s.json("POST", "/sdapi/v1/txt2img", "{\"prompt\": \"x\", \"steps\": 2, \"width\": 16, \"height\": 16, \"sampler_name\": \"" + name + "\"}", 200);
        JsonNode models = s.json("GET", "/sdapi/v1/sd-models", null, 200);
        assertEquals(1, models.size());
        assertEquals("tiny-sd", models.get(0).get("model_name").asText());
        assertTrue(models.get(0).has("title") && models.get(0).has("hash") && models.get(0).get("filename").asText().endsWith("tiny-sd"));
    }

    @Test
    void progressShowsTheCurrentPreviewAndInterruptStopsTheJob() throws Exception {
        CompletableFuture<HttpResponse<byte[]>> pending = TinyServer.CLIENT.sendAsync(HttpRequest.newBuilder(s.uri("/sdapi/v1/txt2img")).timeout(TinyServer.WAIT)
                .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\": \"x\", \"steps\": 500, \"width\": 32, \"height\": 32}")).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        JsonNode p = s.poll("/sdapi/v1/progress", j -> j.get("current_image").isTextual());
        assertTrue(p.get("progress").asDouble() > 0 && p.get("progress").asDouble() < 1, p.toString());
        assertEquals(500, p.get("state").get("sampling_steps").asInt());
        assertTrue(TinyServer.png(Base64.getDecoder().decode(p.get("current_image").asText())).getWidth() > 0);
        JsonNode skip = s.json("GET", "/sdapi/v1/progress?skip_current_image=true", null, 200);
        assertTrue(skip.get("current_image").isNull());

        assertEquals("{}", s.json("POST", "/sdapi/v1/interrupt", "", 200).toString());
        HttpResponse<byte[]> r = pending.get();
        assertEquals(200, r.statusCode());
        JsonNode answer = Http.JSON.readTree(new String(r.body(), StandardCharsets.UTF_8));
        assertEquals(0, answer.get("images").size());
        assertTrue(info(answer).get("comments").asText().contains("interrupted"), answer.toString());
        JsonNode idle = s.json("GET", "/sdapi/v1/progress", null, 200);
        assertEquals(0.0, idle.get("progress").asDouble());
        assertTrue(idle.get("state").get("interrupted").asBoolean() && idle.get("current_image").isNull(), idle.toString());
    }

    @Test
    void aClientThatGoesAwayCancelsItsJob() throws Exception {
        String body = "{\"prompt\": \"x\", \"steps\": 500, \"width\": 16, \"height\": 16}";
        try (Socket socket = new Socket("127.0.0.1", s.port())) {
            OutputStream out = socket.getOutputStream();
            out.write(("POST /sdapi/v1/txt2img HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " + body.length()
                    + "\r\n\r\n" + body).getBytes(StandardCharsets.US_ASCII));
            out.flush();
            s.poll("/sdapi/v1/progress", j -> j.get("state").get("sampling_step").asInt() > 0);
        }
        JsonNode p = s.poll("/sdapi/v1/progress", j -> j.get("state").get("job_count").asInt() == 0);
        assertTrue(p.get("state").get("interrupted").asBoolean(), "the job was cancelled, not finished: " + p);
    }

    @Test
    void badRequestsGetClientErrors() throws Exception {
        String[][] cases = {
                {"/sdapi/v1/txt2img", "{\"prompt\": \"x\", \"sampler_name\": \"Frobnicator\"}", "404", "Sampler not found"},
                {"/sdapi/v1/txt2img", "{\"prompt\": \"x\", \"width\": 30}", "400", "multiple of 8"},
                {"/sdapi/v1/txt2img", "{\"prompt\": \"x\", \"steps\": 0}", "400", "'steps'"},
                {"/sdapi/v1/txt2img", "{\"prompt\": \"x\", \"cfg_scale\": \"high\"}", "400", "'cfg_scale'"},
                {"/sdapi/v1/txt2img", "{\"prompt\": \"x\", \"batch_size\": 64, \"width\": 1024, \"height\": 1024}", "400", "--max-pixels"},
                {"/sdapi/v1/txt2img", "{nope", "400", "bad JSON"},
                {"/sdapi/v1/img2img", "{\"prompt\": \"x\"}", "422", "'init_images'"},
                {"/sdapi/v1/img2img", "{\"prompt\": \"x\", \"init_images\": [\"a\"]}", "422", "base64"},
                {"/sdapi/v1/img2img", "{\"prompt\": \"x\", \"init_images\": [\"aGVsbG8=\"]}", "422", "not an image"},
                {"/sdapi/v1/options", "{}", "404", "A1111 subset"}};
        for (String[] c : cases) s.refused("POST", c[0], c[1], Integer.parseInt(c[2]), c[3]);
        assertEquals(405, s.send("GET", "/sdapi/v1/txt2img", null).statusCode());
    }
}
