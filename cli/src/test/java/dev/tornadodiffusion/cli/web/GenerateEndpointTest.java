package dev.tornadodiffusion.cli.web;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.io.ByteArrayInputStream;
import java.net.http.HttpResponse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The server's simple {@code POST /generate} on loopback: a PNG for a good request, a one-line JSON 4xx for every bad one. */
class GenerateEndpointTest {
    static TinyServer s;

    @BeforeAll
    static void start() throws Exception {
        s = new TinyServer(2, WebServer.Limits.DEFAULT_MAX_PIXELS, 60);
    }

    @AfterAll
    static void stop() {
        s.close();
    }

    @Test
    void generatesAPng() throws Exception {
        HttpResponse<byte[]> r = s.send("POST", "/generate", "{\"prompt\": \"a red fox\", \"steps\": 2, \"seed\": 3, \"width\": 16, \"height\": 16}");
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
        HttpResponse<byte[]> r = s.send("POST", "/generate", "{\"prompt\": \"a (red:1.3) fox\", \"steps\": 2, \"width\": 16, \"height\": 16,"
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
            String body = s.refused(c[0], "/generate", c[1], Integer.parseInt(c[2]), c[3]);
            assertTrue(body.startsWith("{\"error\":"), c[1] + " -> " + body);
        }
        assertEquals(404, s.send("GET", "/nothing", null).statusCode());
    }
}
