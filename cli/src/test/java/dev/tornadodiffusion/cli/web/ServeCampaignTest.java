package dev.tornadodiffusion.cli.web;

import dev.tornadodiffusion.diffusion.image.Png;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a crowd and odd inputs get from serve: images, 429 or 4xx with a reason; never an internal error or a hang. */
class ServeCampaignTest {
    static TinyServer s;

    @BeforeAll
    static void start() throws Exception { s = new TinyServer(2, 256 * 256, 120); }

    @AfterAll
    static void stop() {
        s.close();
        // the campaign leaves the heap with models and finished jobs' PNGs, not its activations
        Runtime rt = Runtime.getRuntime();
        System.gc();
        long used = rt.totalMemory() - rt.freeMemory();
        assertTrue(used < 512L << 20, "heap in use after the campaign: " + (used >> 20) + " MiB");
    }

    @Test
    void twentyConcurrentRequestsGetImagesOrQueueFull() throws Exception {
        List<CompletableFuture<HttpResponse<byte[]>>> all = new ArrayList<>();
        for (int i = 0; i < 20; i++)
            all.add(TinyServer.CLIENT.sendAsync(HttpRequest.newBuilder(s.uri(i % 2 == 0 ? "/generate" : "/sdapi/v1/txt2img")).timeout(TinyServer.WAIT)
                    .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\": \"fox " + i + "\", \"steps\": 2, \"width\": 16, \"height\": 16, \"seed\": " + i + "}")).build(),
                    HttpResponse.BodyHandlers.ofByteArray()));
        int ok = 0, full = 0;
        for (var f : all) {
            HttpResponse<byte[]> r = f.get();
            String body = new String(r.body(), StandardCharsets.UTF_8);
            if (r.statusCode() == 200) {
                ok++;
                assertTrue(!body.contains("\"error\""), body);
            } else {
                assertEquals(429, r.statusCode(), body);
                assertTrue(body.contains("queue is full"), body);
                full++;
            }
        }
        assertTrue(ok >= 3, "the running job and the two queued ones finish: " + ok + " ok, " + full + " refused");
        assertEquals(20, ok + full);
    }

    @Test
    void oddInputsGetAReason(@TempDir Path dir) throws Exception {
        String unicode = "\uD83E\uDD8A\u6771\u4EAC ".repeat(2000);  // 12k characters: the tokenizer truncates, the PNG keeps it all
        HttpResponse<byte[]> r = s.send("POST", "/generate", "{\"prompt\": \"" + unicode + "\", \"steps\": 1, \"width\": 16, \"height\": 16}");
        assertEquals(200, r.statusCode(), new String(r.body(), StandardCharsets.UTF_8));
        Path png = dir.resolve("u.png");
        Files.write(png, r.body());
        assertTrue(Png.readText(png).get("parameters").startsWith(unicode), "the prompt survives in UTF-8");

        String[][] cases = {
                {"/generate", "{\"prompt\": \"x\", \"width\": 4096, \"height\": 4096}", "400"},
                {"/generate", "{\"prompt\": \"x\", \"steps\": NaN}", "400"},
                {"/generate", "{\"prompt\": \"x\", \"guidance_scale\": -1}", "400"},
                {"/generate", "{\"prompt\": \"x\", \"width\": -16}", "400"},
                {"/generate", "{\"prompt\": \"x\", \"steps\": 99999999999}", "400"},
                {"/generate", "{\"prompt\": \"" + "x".repeat(70_000) + "\"}", "413"},
                {"/sdapi/v1/txt2img", "{\"prompt\": \"x\", \"cfg_scale\": 1e400}", "400"},
                {"/sdapi/v1/txt2img", "{\"prompt\": \"x\", \"n_iter\": 1000}", "400"},
                {"/sdapi/v1/txt2img", "{\"prompt\": [\"x\"]}", "400"},
                {"/sdapi/v1/img2img", "{\"init_images\": [42]}", "422"},
                {"/api/jobs", "", "400"},
                {"/api/jobs", "null", "400"}};
        for (String[] c : cases) {
            HttpResponse<byte[]> x = s.send("POST", c[0], c[1]);
            String body = new String(x.body(), StandardCharsets.UTF_8);
            String shown = c[1].length() > 80 ? c[1].substring(0, 80) + "..." : c[1];
            assertEquals(Integer.parseInt(c[2]), x.statusCode(), shown + " -> " + body);
            assertTrue(body.startsWith("{\"error\":") && !body.contains("\n") && !body.contains("internal error"), shown + " -> " + body);
        }
    }

    @Test
    void aClientThatGoesAwayCancelsItsJobAndLimitsHold() throws Exception {
        try (TinyServer t = new TinyServer(new WebServer.Limits(2, 256 * 256, 120, 64 * 64 * 400, 0))) {
            // POST /generate, then close the socket while the job runs: the queue cancels it
            try (java.net.Socket socket = new java.net.Socket("127.0.0.1", t.port())) {
                byte[] body = "{\"prompt\": \"gone\", \"steps\": 400, \"width\": 64, \"height\": 64}".getBytes(StandardCharsets.UTF_8);
                socket.getOutputStream().write(("POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + body.length
                        + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                socket.getOutputStream().write(body);
                socket.getOutputStream().flush();
                t.poll("/sdapi/v1/progress", j -> j.path("state").path("job").asText().startsWith("job "));
            }
            var progress = t.poll("/sdapi/v1/progress", j -> j.path("state").path("interrupted").asBoolean());
            assertTrue(progress.path("state").path("interrupted").asBoolean(), progress.toString());
            assertTrue(t.log.toString(StandardCharsets.UTF_8).contains("POST /generate"), "the access log has the abandoned request");

            String[][] cases = {
                    // pixels x images x steps over --max-pixel-steps (64 * 64 * 400)
                    {"{\"prompt\": \"x\", \"width\": 64, \"height\": 64, \"steps\": 401}", "400", "--max-pixel-steps"},
                    {"{\"prompt\": \"x\", \"width\": 64, \"height\": 64, \"batch\": 2, \"steps\": 300}", "400", "--max-pixel-steps"},
                    {"{\"prompt\": \"x\", \"width\": 1024, \"height\": 1024}", "400", "--max-pixels"}};
            for (String[] c : cases) {
                HttpResponse<byte[]> x = t.send("POST", "/generate", c[0]);
                String text = new String(x.body(), StandardCharsets.UTF_8);
                assertEquals(Integer.parseInt(c[1]), x.statusCode(), c[0] + " -> " + text);
                assertTrue(text.contains(c[2]) && !text.contains("\n"), c[0] + " -> " + text);
            }
        }
        // a job past the time limit ends with 503 and the reason
        try (TinyServer t = new TinyServer(new WebServer.Limits(2, 256 * 256, 0.5, 1L << 40, 0))) {
            HttpResponse<byte[]> x = t.send("POST", "/generate", "{\"prompt\": \"slow\", \"steps\": 500, \"width\": 256, \"height\": 256}");
            String text = new String(x.body(), StandardCharsets.UTF_8);
            assertEquals(503, x.statusCode(), text);
            assertTrue(text.contains("time limit of"), text);
        }
        // the memory a request needs, over --max-memory: refused before it is queued, with the estimate and the limit
        try (TinyServer t = new TinyServer(new WebServer.Limits(2, 4L << 20, 60, 1L << 40, 1L << 20))) {
            HttpResponse<byte[]> x = t.send("POST", "/generate", "{\"prompt\": \"x\", \"width\": 64, \"height\": 64}");
            String text = new String(x.body(), StandardCharsets.UTF_8);
            assertEquals(400, x.statusCode(), text);
            assertTrue(text.contains("needs about") && text.contains("serve --max-memory") && text.contains("1 MiB"), text);
        }
    }

}
