package dev.tornadodiffusion.cli.web;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The page's side of {@code serve}: the page itself, jobs with positions, progress events with previews, cancel, limits, access log. */
class WebServerTest {
    static TinyServer s;

    @BeforeAll
    static void start() throws Exception { s = new TinyServer(1, 64 * 64 * 4, 120); }

    @AfterAll
    static void stop() { s.close(); }

    @Test
    void servesThePageAndTheModelInfo() throws Exception {
        HttpResponse<byte[]> page = s.send("GET", "/", null);
        assertEquals(200, page.statusCode());
        String html = new String(page.body(), StandardCharsets.UTF_8);
        assertTrue(html.contains("id=\"generate\"") && html.contains("/app.js"), html);
        assertEquals("text/javascript; charset=utf-8", s.send("GET", "/app.js", null).headers().firstValue("Content-Type").orElse(""));
        assertEquals(404, s.send("GET", "/secret.txt", null).statusCode());

        JsonNode info = s.json("GET", "/api/info", null, 200);
        assertTrue(info.get("description").asText().startsWith("StableDiffusionPipeline tiny-sd"), info.toString());
        assertFalse(info.get("random_weights").asBoolean());   // the bundled model is trained
        assertTrue(info.get("width").asInt() > 0 && info.get("max_pixels").asLong() == 64 * 64 * 4, info.toString());
        List<String> ids = new ArrayList<>();
        info.get("samplers").forEach(x -> ids.add(x.get("id").asText()));
        assertTrue(ids.containsAll(List.of("euler", "euler-a", "ddim", "dpm++2m")), ids.toString());
        assertTrue(s.accessLogHas("serve: 127\\.0\\.0\\.1 GET /api/info 200 \\d+\\.\\d{3} s"), s.accessLog());
    }

    @Test
    void eventsStreamEveryStepWithPreviewsThenTheImages() throws Exception {
        JsonNode job = s.json("POST", "/api/jobs", "{\"prompt\": \"a red fox\", \"steps\": 6, \"width\": 32, \"height\": 32, \"batch\": 2, \"seed\": 5}", 202);
        long id = job.get("id").asLong();
        assertEquals(5, job.get("seed").asLong());
        HttpResponse<Stream<String>> r = TinyServer.CLIENT.send(HttpRequest.newBuilder(s.uri("/api/jobs/" + id + "/events")).timeout(TinyServer.WAIT).build(),
                HttpResponse.BodyHandlers.ofLines());
        assertEquals("text/event-stream", r.headers().firstValue("Content-Type").orElse(""));
        List<JsonNode> events = new ArrayList<>();
        for (String line : (Iterable<String>) r.body()::iterator) {
            if (!line.startsWith("data: ")) continue;
            events.add(Http.JSON.readTree(line.substring(6)));
            if (events.getLast().get("state").asText().equals("done")) break;
        }
        List<JsonNode> previews = events.stream().filter(e -> e.has("preview")).toList();
        assertFalse(previews.isEmpty(), events.toString());
        String url = previews.getFirst().get("preview").asText();
        assertTrue(url.startsWith("data:image/png;base64,"));
        int w = TinyServer.png(Base64.getDecoder().decode(url.substring(url.indexOf(',') + 1))).getWidth();
        assertTrue(w < 32 && 32 % w == 0, "a preview is latent-sized, got " + w);
        JsonNode last = events.getLast();
        assertEquals("done", last.get("state").asText());
        assertEquals(1.0, last.get("progress").asDouble());
        assertEquals(2, last.get("images").size());
        for (int i = 0; i < 2; i++) {
            JsonNode im = last.get("images").get(i);
            assertEquals(5 + i, im.get("seed").asLong(), "image i of a batch has seed + i");
            assertTrue(im.get("parameters").asText().contains("Steps: 6") && im.get("parameters").asText().contains("Seed: " + (5 + i) + ","), im.toString());
            HttpResponse<byte[]> png = s.send("GET", im.get("url").asText(), null);
            assertEquals(200, png.statusCode());
            assertEquals(32, TinyServer.png(png.body()).getWidth());
            assertEquals(im.get("parameters").asText(), TinyServer.parameters(png.body()));
        }
        assertEquals(404, s.send("GET", "/api/jobs/" + id + "/images/2.png", null).statusCode());
    }

    @Test
    void jobsWaitInABoundedQueueWithPositionsAndCanBeCancelled() throws Exception {
        String slow = "{\"prompt\": \"x\", \"steps\": 500, \"width\": 16, \"height\": 16}";
        long a = s.json("POST", "/api/jobs", slow, 202).get("id").asLong();
        s.poll("/api/jobs/" + a, j -> j.get("state").asText().equals("running"));
        JsonNode b = s.json("POST", "/api/jobs", slow, 202);
        assertEquals(1, b.get("position").asInt());
        JsonNode full = s.json("POST", "/api/jobs", slow, 429);
        assertTrue(full.get("error").asText().contains("queue is full"), full.toString());

        s.json("POST", "/api/jobs/" + b.get("id").asLong() + "/cancel", "", 200);
        JsonNode bs = s.json("GET", "/api/jobs/" + b.get("id").asLong(), null, 200);
        assertEquals("cancelled", bs.get("state").asText());
        s.json("POST", "/api/jobs/" + a + "/cancel", "", 200);
        JsonNode as = s.poll("/api/jobs/" + a, j -> !j.get("state").asText().equals("running"));
        assertEquals("cancelled", as.get("state").asText());
        assertEquals("cancelled by the user", as.get("error").asText());
        assertTrue(as.get("step").asInt() < 500);
    }

    @Test
    void closingThePageCancelsItsJob() throws Exception {
        long id = s.json("POST", "/api/jobs", "{\"prompt\": \"x\", \"steps\": 500, \"width\": 16, \"height\": 16}", 202).get("id").asLong();
        try (Socket socket = new Socket("127.0.0.1", s.port())) {
            OutputStream out = socket.getOutputStream();
            out.write(("GET /api/jobs/" + id + "/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            for (String line; (line = in.readLine()) != null; ) if (line.contains("\"state\":\"running\"") && line.contains("\"step\":1")) break;
        }
        JsonNode j = s.poll("/api/jobs/" + id, x -> !x.get("state").asText().equals("running"));
        assertEquals("cancelled", j.get("state").asText());
        assertEquals("the page that started it was closed", j.get("error").asText());
    }

    @Test
    void refusesWhatItCannotDoInOneLine() throws Exception {
        String[][] cases = {
                {"{\"prompt\": \"x\", \"width\": 512, \"height\": 512}", "400", "--max-pixels"},
                {"{\"prompt\": \"x\", \"guidance_scale\": 1e999}", "400", "'guidance_scale'"},
                {"{\"prompt\": \"x\", \"seed\": -5}", "400", "'seed'"},
                {"{\"prompt\": \"x\", \"batch\": 0}", "400", "'batch'"},
                {"{\"prompt\": 3}", "400", "'prompt'"},
                {"{\"prompt\": \"x\", \"frobnicate\": 1}", "400", "unknown field 'frobnicate'"}};
        for (String[] c : cases) {
            HttpResponse<byte[]> r = s.send("POST", "/api/jobs", c[0]);
            String body = new String(r.body(), StandardCharsets.UTF_8);
            assertEquals(Integer.parseInt(c[1]), r.statusCode(), c[0] + " -> " + body);
            assertTrue(body.startsWith("{\"error\":") && body.contains(c[2]) && !body.contains("\n"), c[0] + " -> " + body);
        }
        assertEquals(404, s.send("GET", "/api/jobs/999999", null).statusCode());
        assertEquals(405, s.send("GET", "/api/jobs", null).statusCode());
    }
}
