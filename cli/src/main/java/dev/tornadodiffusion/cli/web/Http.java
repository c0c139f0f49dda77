package dev.tornadodiffusion.cli.web;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.Filter;
import com.sun.net.httpserver.HttpExchange;
import dev.tornadodiffusion.weights.Json;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/** What every handler shares: reading a bounded JSON body, answering JSON / bytes, and the access log. */
final class Http {
    static final ObjectMapper JSON = new ObjectMapper();

    private Http() {}

    /** A user mistake: answered with {@code status} and the message, never a stack trace. */
    static final class Refused extends RuntimeException {
        final int status;

        Refused(int status, String message) {
            super(message, null, false, false);
            this.status = status;
        }
    }

    static JsonNode body(HttpExchange ex, int maxBytes) throws IOException {
        byte[] bytes = ex.getRequestBody().readNBytes(maxBytes + 1);
        if (bytes.length > maxBytes) throw new Refused(413, "request body over " + maxBytes + " bytes");
        try {
            return Json.parse(new String(bytes, StandardCharsets.UTF_8), "request body");
        } catch (IllegalArgumentException e) {
            throw new Refused(400, e.getMessage());
        }
    }

    static ObjectNode object() { return JSON.createObjectNode(); }

    static void json(HttpExchange ex, int status, JsonNode body) {
        try {
            send(ex, status, "application/json", JSON.writeValueAsBytes(body));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static void error(HttpExchange ex, int status, String message) {
        json(ex, status, object().put("error", message));
    }

    static void send(HttpExchange ex, int status, String type, byte[] body) {
        try (ex) {
            ex.getResponseHeaders().set("Content-Type", type);
            ex.getResponseHeaders().set("Cache-Control", "no-store");
            ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
            if (body.length > 0) ex.getResponseBody().write(body);
        } catch (IOException ignored) {
            // the client went away; nothing to tell it
        }
    }

    static void requireMethod(HttpExchange ex, String method) {
        if (!ex.getRequestMethod().equals(method)) throw new Refused(405, "use " + method + (method.equals("POST") ? " with a JSON body" : ""));
    }

    /** One line per request on {@code out}: client, method, path, status, duration. */
    static Filter accessLog(PrintStream out) {
        return new Filter() {
            @Override
            public void doFilter(HttpExchange ex, Chain chain) throws IOException {
                long t0 = System.nanoTime();
                try {
                    chain.doFilter(ex);
                } finally {
                    out.println(String.format(Locale.ROOT, "serve: %s %s %s %d %.3f s", ex.getRemoteAddress().getAddress().getHostAddress(),
                            ex.getRequestMethod(), ex.getRequestURI().getRawPath(), ex.getResponseCode(), (System.nanoTime() - t0) / 1e9));
                }
            }

            @Override
            public String description() { return "access log"; }
        };
    }
}
