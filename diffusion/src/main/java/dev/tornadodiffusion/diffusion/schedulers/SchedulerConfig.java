package dev.tornadodiffusion.diffusion.schedulers;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * A {@code scheduler_config.json} (what diffusers' {@code save_config} writes): typed access to its fields with the
 * defaults of the scheduler class reading them. As in diffusers' {@code from_config}, keys a class does not know are
 * ignored and missing keys (or {@code null}) take the class default; a value of the wrong type is an error naming
 * the file and key.
 */
public final class SchedulerConfig {
    // Python's json writes -Infinity / NaN (e.g. lambda_min_clipped), so accept them
    private static final ObjectMapper JSON = JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();

    private final ObjectNode node;
    private final String source;

    private SchedulerConfig(ObjectNode node, String source) {
        this.node = node;
        this.source = source;
    }

    /** Reads a scheduler config file. */
    public static SchedulerConfig read(Path file) throws IOException {
        JsonNode n;
        try {
            n = JSON.readTree(Files.readString(file));
        } catch (NoSuchFileException e) {
            throw new IOException(file + ": no such scheduler config file");
        } catch (JsonProcessingException e) {
            throw new IOException(file + ": not valid JSON: " + e.getOriginalMessage());
        }
        if (!(n instanceof ObjectNode o)) throw new IOException(file + ": a scheduler config must be a JSON object");
        return new SchedulerConfig(o, file.toString());
    }

    /** Parses config JSON text; {@code source} names it in error messages. */
    public static SchedulerConfig parse(String json, String source) {
        try {
            return of(JSON.readTree(json), source);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(source + ": not valid JSON: " + e.getOriginalMessage());
        }
    }

    /** Wraps an already parsed config object; {@code source} names it in error messages. */
    public static SchedulerConfig of(JsonNode json, String source) {
        if (!(json instanceof ObjectNode o)) throw new IllegalArgumentException(source + ": a scheduler config must be a JSON object");
        return new SchedulerConfig(o.deepCopy(), source);
    }

    /** Where the config came from (a file name), for messages. */
    public String source() {
        return source;
    }

    /** A copy of the JSON object. */
    public ObjectNode json() {
        return node.deepCopy();
    }

    /** {@code _class_name}, or null when absent. */
    public String className() {
        JsonNode v = node.get("_class_name");
        return v == null || v.isNull() ? null : v.asText();
    }

    private JsonNode value(String key) {
        JsonNode v = node.get(key);
        return v == null || v.isNull() ? null : v;
    }

    private IllegalArgumentException bad(String key, String expected, JsonNode v) {
        return new IllegalArgumentException(source + ": \"" + key + "\" must be " + expected + ", got " + v);
    }

    public int getInt(String key, int defaultValue) {
        JsonNode v = value(key);
        if (v == null) return defaultValue;
        if (!v.canConvertToInt() || !v.isIntegralNumber()) throw bad(key, "an integer", v);
        return v.intValue();
    }

    public double getDouble(String key, double defaultValue) {
        JsonNode v = value(key);
        if (v == null) return defaultValue;
        if (!v.isNumber()) throw bad(key, "a number", v);
        return v.doubleValue();
    }

    /** A number that may be absent / null (then NaN). */
    public double getOptionalDouble(String key) {
        return getDouble(key, Double.NaN);
    }

    public boolean getBoolean(String key, boolean defaultValue) {
        JsonNode v = value(key);
        if (v == null) return defaultValue;
        if (!v.isBoolean()) throw bad(key, "true or false", v);
        return v.booleanValue();
    }

    /** A string that must be one of {@code allowed}. */
    public String getChoice(String key, String defaultValue, String... allowed) {
        JsonNode v = value(key);
        if (v == null) return defaultValue;
        if (!v.isTextual() || !Arrays.asList(allowed).contains(v.textValue()))
            throw bad(key, "one of " + String.join(", ", allowed), v);
        return v.textValue();
    }

    /** A list of numbers as float32 values, or null when absent / null. */
    public float[] getFloatArray(String key) {
        JsonNode v = value(key);
        if (v == null) return null;
        if (!v.isArray()) throw bad(key, "a list of numbers", v);
        float[] out = new float[v.size()];
        for (int i = 0; i < out.length; i++) {
            if (!v.get(i).isNumber()) throw bad(key, "a list of numbers", v);
            out[i] = (float) v.get(i).doubleValue();
        }
        return out;
    }

    /** A list of integers, empty when absent / null. */
    public int[] getIntArray(String key) {
        JsonNode v = value(key);
        if (v == null) return new int[0];
        if (!v.isArray()) throw bad(key, "a list of integers", v);
        int[] out = new int[v.size()];
        for (int i = 0; i < out.length; i++) {
            if (!v.get(i).isIntegralNumber() || !v.get(i).canConvertToInt()) throw bad(key, "a list of integers", v);
            out[i] = v.get(i).intValue();
        }
        return out;
    }

    @Override
    public String toString() {
        return source + " " + node;
    }
}
