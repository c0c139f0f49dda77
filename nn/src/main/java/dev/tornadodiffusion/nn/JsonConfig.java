package dev.tornadodiffusion.nn;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.weights.Json;
import dev.tornadodiffusion.weights.WeightFormatException;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Typed access to a model's {@code config.json} (diffusers / transformers field names) with the upstream defaults:
 * absent or null fields take the default, a field of the wrong type is an error naming the file and the field.
 */
public final class JsonConfig {
    private final JsonNode root;
    private final String source;

    public JsonConfig(JsonNode root, String source) {
        if (root == null || !root.isObject()) throw new WeightFormatException(source + ": expected a JSON object");
        this.root = root;
        this.source = source;
    }

    /** The config in {@code file} (read by {@link Json#read(Path)}: a missing or malformed file is a one-line error). */
    public static JsonConfig read(Path file) throws IOException {
        return new JsonConfig(Json.read(file), file.toString());
    }

    public String source() { return source; }

    public boolean has(String key) { return root.hasNonNull(key); }

    public boolean isList(String key) { return has(key) && root.get(key).isArray(); }

    /** The nested object {@code key}. */
    public JsonConfig child(String key) {
        JsonNode n = root.get(key);
        if (n == null || !n.isObject()) throw error(key, "an object", n);
        return new JsonConfig(n, source + " '" + key + "'");
    }

    public int getInt(String key) {
        JsonNode n = required(key);
        if (!n.canConvertToInt() || !n.isIntegralNumber()) throw error(key, "an integer", n);
        return n.intValue();
    }

    public int getInt(String key, int fallback) { return has(key) ? getInt(key) : fallback; }

    public long getLong(String key, long fallback) {
        if (!has(key)) return fallback;
        JsonNode n = root.get(key);
        if (!n.isIntegralNumber() || !n.canConvertToLong()) throw error(key, "an integer", n);
        return n.longValue();
    }

    public double getDouble(String key) {
        JsonNode n = required(key);
        if (!n.isNumber()) throw error(key, "a number", n);
        return n.doubleValue();
    }

    public double getDouble(String key, double fallback) { return has(key) ? getDouble(key) : fallback; }

    /** A number or null (JSON null and absent both give null). */
    public Double getDoubleOrNull(String key) { return has(key) ? getDouble(key) : null; }

    public boolean getBoolean(String key, boolean fallback) {
        if (!has(key)) return fallback;
        JsonNode n = root.get(key);
        if (!n.isBoolean()) throw error(key, "true or false", n);
        return n.booleanValue();
    }

    public String getString(String key, String fallback) {
        if (!has(key)) return fallback;
        JsonNode n = root.get(key);
        if (!n.isTextual()) throw error(key, "a string", n);
        return n.textValue();
    }

    public int[] getIntArray(String key, int[] fallback) {
        if (!has(key)) return fallback;
        JsonNode n = root.get(key);
        if (!n.isArray()) throw error(key, "a list of integers", n);
        int[] out = new int[n.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode e = n.get(i);
            if (!e.isIntegralNumber() || !e.canConvertToInt()) throw error(key, "a list of integers", n);
            out[i] = e.intValue();
        }
        return out;
    }

    public String[] getStringArray(String key, String[] fallback) {
        if (!has(key)) return fallback;
        JsonNode n = root.get(key);
        if (!n.isArray()) throw error(key, "a list of strings", n);
        String[] out = new String[n.size()];
        for (int i = 0; i < out.length; i++) {
            if (!n.get(i).isTextual()) throw error(key, "a list of strings", n);
            out[i] = n.get(i).textValue();
        }
        return out;
    }

    /** An error about field {@code key} of this config, for checks the caller makes. */
    public WeightFormatException invalid(String key, String problem) {
        return new WeightFormatException(source + ": '" + key + "' " + problem);
    }

    private JsonNode required(String key) {
        if (!has(key)) throw new WeightFormatException(source + ": missing field '" + key + "'");
        return root.get(key);
    }

    private WeightFormatException error(String key, String expected, JsonNode got) {
        return invalid(key, "must be " + expected + ", got " + (got == null ? "nothing" : got.toString()));
    }
}
