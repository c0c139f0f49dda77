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
    static void stop() { s.close(); }

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
}
