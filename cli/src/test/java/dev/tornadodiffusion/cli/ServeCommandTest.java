package dev.tornadodiffusion.cli;

import com.sun.net.httpserver.HttpServer;
import dev.tornadodiffusion.diffusion.pipelines.LoadOptions;
import dev.tornadodiffusion.diffusion.pipelines.Pipeline;
import dev.tornadodiffusion.cli.web.WebServer;
import dev.tornadodiffusion.tensor.Backends;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code diffuse serve} on loopback: a PNG for a good request, a one-line JSON 4xx for every bad one. */
class ServeCommandTest {
    static Pipeline pipeline;
    static HttpServer server;
    static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    @BeforeAll
    static void start() throws Exception {
        pipeline = Pipeline.load(GenerateCommandTest.TINY, Backends.cpu(), LoadOptions.DEFAULT);
        server = WebServer.start(pipeline, GenerateCommandTest.TINY, "127.0.0.1", 0, new WebServer.Limits(2, WebServer.Limits.DEFAULT_MAX_PIXELS, 60), System.err);
    }

    @AfterAll
    static void stop() {
        server.stop(0);
        pipeline.close();
    }

    static HttpResponse<byte[]> send(String method, String path, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.getAddress().getPort() + path)).timeout(Duration.ofSeconds(60));
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        return CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    @Test
    void generatesAPng() throws Exception {
        HttpResponse<byte[]> r = send("POST", "/generate", "{\"prompt\": \"a red fox\", \"steps\": 2, \"seed\": 3, \"width\": 16, \"height\": 16}");
        assertEquals(200, r.statusCode(), new String(r.body()));
        assertEquals("image/png", r.headers().firstValue("Content-Type").orElse(""));
        assertEquals(16, ImageIO.read(new ByteArrayInputStream(r.body())).getWidth());
    }

    @Test
    void inpaintsWithA1111SamplerNames() throws Exception {
        java.awt.image.BufferedImage img = new java.awt.image.BufferedImage(16, 16, java.awt.image.BufferedImage.TYPE_INT_RGB);
        java.io.ByteArrayOutputStream png = new java.io.ByteArrayOutputStream();
        ImageIO.write(img, "png", png);
        String b64 = java.util.Base64.getEncoder().encodeToString(png.toByteArray());
        HttpResponse<byte[]> r = send("POST", "/generate", "{\"prompt\": \"a (red:1.3) fox\", \"steps\": 2, \"width\": 16, \"height\": 16,"
                + " \"sampler_name\": \"Euler a\", \"init_image\": \"data:image/png;base64," + b64 + "\", \"mask\": \"" + b64 + "\"}");
        assertEquals(200, r.statusCode(), new String(r.body()));
        assertEquals(16, ImageIO.read(new ByteArrayInputStream(r.body())).getWidth());
    }

    @Test
    void badRequestsGetClearClientErrors() throws Exception {
        String[][] cases = {
                {"POST", "{not json", "400", "bad JSON"},
                {"POST", "[1, 2]", "400", "JSON object"},
                {"POST", "{\"steps\": 2}", "400", "'prompt'"},
                {"POST", "{\"prompt\": \"x\", \"colour\": \"red\"}", "400", "unknown field 'colour'"},
                {"POST", "{\"prompt\": \"x\", \"steps\": 0}", "400", "'steps'"},
                {"POST", "{\"prompt\": \"x\", \"width\": 30}", "400", "width"},
                {"POST", "{\"prompt\": \"x\", \"mask\": \"AAAA\"}", "400", "'mask'"},
                {"POST", "{\"prompt\": \"x\", \"sampler_name\": \"DPM fast\"}", "400", "unknown sampler"},
                {"GET", null, "405", "POST"}};
        for (String[] c : cases) {
            HttpResponse<byte[]> r = send(c[0], "/generate", c[1]);
            String body = new String(r.body());
            assertEquals(Integer.parseInt(c[2]), r.statusCode(), c[1] + " -> " + body);
            assertTrue(body.startsWith("{\"error\":") && body.contains(c[3]) && !body.contains("\n"), c[1] + " -> " + body);
        }
        assertEquals(404, send("GET", "/nothing", null).statusCode());
    }
}
