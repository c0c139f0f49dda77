package dev.tornadodiffusion.cli.web;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import dev.tornadodiffusion.diffusion.pipelines.LoadOptions;
import dev.tornadodiffusion.diffusion.pipelines.Pipeline;
import dev.tornadodiffusion.tensor.Backends;

import javax.imageio.ImageIO;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Predicate;

/** The bundled tiny model served on a free loopback port, with a captured access log, and the HTTP calls the tests make. */
final class TinyServer implements AutoCloseable {
    static final Path TINY = Path.of("..").toAbsolutePath().normalize().resolve("models/tiny-sd");
    static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    /** The build machine may be shared and slow: generous waits, tiny images. */
    static final Duration WAIT = Duration.ofSeconds(240);

    final Pipeline pipeline;
    final HttpServer server;
    final ByteArrayOutputStream log = new ByteArrayOutputStream();

    TinyServer(int queue, long maxPixels, double timeLimit) throws Exception {
        this(new WebServer.Limits(queue, maxPixels, timeLimit));
    }

    TinyServer(WebServer.Limits limits) throws Exception {
        pipeline = Pipeline.load(TINY, Backends.cpu(), LoadOptions.DEFAULT);
        server = WebServer.start(pipeline, TINY, "127.0.0.1", 0, limits,
                new PrintStream(log, true, StandardCharsets.UTF_8));
    }

    int port() { return server.getAddress().getPort(); }

    URI uri(String path) { return URI.create("http://127.0.0.1:" + port() + path); }

    HttpResponse<byte[]> send(String method, String path, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).timeout(WAIT);
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        return CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    JsonNode json(String method, String path, String body, int expectStatus) throws Exception {
        HttpResponse<byte[]> r = send(method, path, body);
        String text = new String(r.body(), StandardCharsets.UTF_8);
        if (r.statusCode() != expectStatus) throw new AssertionError(method + " " + path + " " + body + " -> " + r.statusCode() + " " + text);
        return Http.JSON.readTree(text);
    }

    /** Sends a bad request and checks the refusal: the status, one line of text naming {@code part}; returns that text. */
    String refused(String method, String path, String body, int status, String part) throws Exception {
        HttpResponse<byte[]> r = send(method, path, body);
        String text = new String(r.body(), StandardCharsets.UTF_8);
        if (r.statusCode() != status || !text.contains(part) || text.contains("\n"))
            throw new AssertionError(method + " " + path + " " + body + " -> " + r.statusCode() + " " + text + " (expected " + status + " naming '" + part + "' in one line)");
        return text;
    }

    /** Polls {@code path} until {@code done} holds (or fails after {@link #WAIT}). */
    JsonNode poll(String path, Predicate<JsonNode> done) throws Exception {
        long end = System.nanoTime() + WAIT.toNanos();
        while (true) {
            JsonNode j = json("GET", path, null, 200);
            if (done.test(j)) return j;
            if (System.nanoTime() > end) throw new AssertionError("gave up waiting on " + path + ": " + j);
            Thread.sleep(50);
        }
    }

    String accessLog() { return log.toString(StandardCharsets.UTF_8); }

    /** Whether a line of the access log matches {@code regex} within 5 s: the line is written after the response has gone out. */
    boolean accessLogHas(String regex) throws InterruptedException {
        for (long end = System.nanoTime() + 5_000_000_000L; System.nanoTime() < end; Thread.sleep(20))
            if (accessLog().lines().anyMatch(l -> l.matches(regex))) return true;
        return false;
    }

    @Override
    public void close() {
        server.stop(0);
        pipeline.close();
    }

    static BufferedImage png(byte[] bytes) throws Exception {
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(bytes));
        if (img == null) throw new AssertionError("not an image");
        return img;
    }

    /** The "parameters" text chunk of a PNG (tEXt or iTXt). */
    static String parameters(byte[] png) throws Exception {
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(png))) {
            var reader = ImageIO.getImageReaders(in).next();
            reader.setInput(in);
            IIOMetadataNode root = (IIOMetadataNode) reader.getImageMetadata(0).getAsTree("javax_imageio_png_1.0");
            for (String chunk : new String[]{"tEXtEntry", "iTXtEntry"}) {
                var entries = root.getElementsByTagName(chunk);
                for (int i = 0; i < entries.getLength(); i++) {
                    var e = (IIOMetadataNode) entries.item(i);
                    if ("parameters".equals(e.getAttribute("keyword"))) return chunk.equals("tEXtEntry") ? e.getAttribute("value") : e.getAttribute("text");
                }
            }
        }
        return null;
    }
}
