package dev.tornadodiffusion.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Typed access to a {@code config.json} (diffusers / transformers / scheduler field names) with the upstream
 * defaults: absent or null fields take the default ({@link #isNull} tells an explicit null apart where it matters),
 * a field of the wrong type is an error naming the file and the field. diffusers' fields that are an integer or a
 * list per block expand with {@link #getPerBlock} and {@link #getPerBlockAndLayer}.
 */
public class JsonConfig {
    private final ObjectNode root;
    private final String source;

    public JsonConfig(JsonNode root, String source) {
        if (!(root instanceof ObjectNode o)) throw new WeightFormatException(source + ": expected a JSON object");
        this.root = o;
        this.source = source;
    }

    /** The config in {@code file} (read by {@link Json#read(Path)}: a missing or malformed file is a one-line error). */
    public static JsonConfig read(Path file) throws IOException {
        return new JsonConfig(Json.read(file), file.toString());
    }

    /** Where the config came from (a file name), for messages. */
    public String source() { return source; }

    /** A copy of the JSON object. */
    public ObjectNode json() { return root.deepCopy(); }

    /** The field is present and not null. */
    public boolean has(String key) { return root.hasNonNull(key); }

    /** The field is present as an explicit null (which diffusers passes on to the constructor, unlike an absent one). */
    public boolean isNull(String key) { return root.has(key) && root.get(key).isNull(); }

    public boolean isList(String key) { return has(key) && root.get(key).isArray(); }

    /** The field's raw value, or null when it is absent or null (for structure the typed getters do not cover). */
    public JsonNode get(String key) { return has(key) ? root.get(key) : null; }

    /** The nested object {@code key}. */
    public JsonConfig child(String key) {
        JsonNode n = root.get(key);
        if (n == null || !n.isObject()) throw error(key, "an object", n);
        return new JsonConfig(n, source + " '" + key + "'");
    }

    public int getInt(String key) {
        if (!has(key)) throw new WeightFormatException(source + ": missing field '" + key + "'");
        return integer(key, root.get(key), "an integer");
    }

    public int getInt(String key, int fallback) { return has(key) ? getInt(key) : fallback; }

    public long getLong(String key, long fallback) {
        if (!has(key)) return fallback;
        JsonNode n = root.get(key);
        if (!n.isIntegralNumber() || !n.canConvertToLong()) throw error(key, "an integer", n);
        return n.longValue();
    }

    public double getDouble(String key) {
        if (!has(key)) throw new WeightFormatException(source + ": missing field '" + key + "'");
        JsonNode n = root.get(key);
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

    /** A string that must be one of {@code allowed}. */
    public String getChoice(String key, String fallback, String... allowed) {
        if (!has(key)) return fallback;
        JsonNode n = root.get(key);
        if (!n.isTextual() || !Arrays.asList(allowed).contains(n.textValue())) throw error(key, "one of " + String.join(", ", allowed), n);
        return n.textValue();
    }

    /** {@link #getChoice} for an enum whose constants are the config values in upper case (e.g. "v_prediction" -> V_PREDICTION). */
    @SafeVarargs
    public final <E extends Enum<E>> E getEnum(String key, E fallback, E... allowed) {
        String[] names = new String[allowed.length];
        for (int i = 0; i < allowed.length; i++) names[i] = allowed[i].name().toLowerCase(java.util.Locale.ROOT);
        String v = getChoice(key, fallback.name().toLowerCase(java.util.Locale.ROOT), names);
        return Enum.valueOf(fallback.getDeclaringClass(), v.toUpperCase(java.util.Locale.ROOT));
    }

    public int[] getIntArray(String key, int[] fallback) {
        JsonNode n = list(key, "a list of integers");
        if (n == null) return fallback;
        int[] out = new int[n.size()];
        for (int i = 0; i < out.length; i++) out[i] = integer(key, n.get(i), "a list of integers");
        return out;
    }

    /** A list of numbers as float32 values. */
    public float[] getFloatArray(String key, float[] fallback) {
        JsonNode n = list(key, "a list of numbers");
        if (n == null) return fallback;
        float[] out = new float[n.size()];
        for (int i = 0; i < out.length; i++) {
            if (!n.get(i).isNumber()) throw error(key, "a list of numbers", n);
            out[i] = (float) n.get(i).doubleValue();
        }
        return out;
    }

    public String[] getStringArray(String key, String[] fallback) {
        JsonNode n = list(key, "a list of strings");
        if (n == null) return fallback;
        String[] out = new String[n.size()];
        for (int i = 0; i < out.length; i++) {
            if (!n.get(i).isTextual()) throw error(key, "a list of strings", n);
            out[i] = n.get(i).textValue();
        }
        return out;
    }

    /** diffusers' per-block fields: one integer for all {@code blocks} blocks, or a list with one per block. */
    public int[] getPerBlock(String key, int fallback, int blocks) {
        if (!isList(key)) {
            int[] out = new int[blocks];
            Arrays.fill(out, getInt(key, fallback));
            return out;
        }
        int[] out = getIntArray(key, null);
        if (out.length != blocks) throw invalid(key, "has " + out.length + " entries for " + blocks + " blocks");
        return out;
    }

    /**
     * diffusers' per-block-and-layer fields (transformer_layers_per_block): one integer for everything, or a list with
     * one entry per block that is an integer for all its layers or a list with one per layer; expanded to
     * [block][layer] for blocks of {@code layersPerBlock} layers.
     */
    public int[][] getPerBlockAndLayer(String key, int fallback, int[] layersPerBlock) {
        JsonNode v = get(key);
        int blocks = layersPerBlock.length;
        if (v != null && v.isArray() && v.size() != blocks) throw invalid(key, "has " + v.size() + " entries for " + blocks + " blocks");
        int[][] out = new int[blocks][];
        for (int b = 0; b < blocks; b++) {
            JsonNode e = v == null ? null : v.isArray() ? v.get(b) : v;
            out[b] = new int[layersPerBlock[b]];
            if (e != null && e.isArray()) {
                if (e.size() != out[b].length) throw invalid(key, "block " + b + " lists " + e.size() + " layers, the block has " + out[b].length);
                for (int l = 0; l < out[b].length; l++) out[b][l] = integer(key, e.get(l), "integers or lists of integers");
            } else {
                Arrays.fill(out[b], e == null ? fallback : integer(key, e, "an integer or a list per block"));
            }
        }
        return out;
    }

    /** An error about field {@code key} of this config, for checks the caller makes. */
    public WeightFormatException invalid(String key, String problem) {
        return new WeightFormatException(source + ": field '" + key + "' " + problem);
    }

    @Override
    public String toString() { return source + " " + root; }

    private JsonNode list(String key, String expected) {
        if (!has(key)) return null;
        JsonNode n = root.get(key);
        if (!n.isArray()) throw error(key, expected, n);
        return n;
    }

    private int integer(String key, JsonNode n, String expected) {
        if (!n.isIntegralNumber() || !n.canConvertToInt()) throw error(key, expected, n);
        return n.intValue();
    }

    private WeightFormatException error(String key, String expected, JsonNode got) {
        return invalid(key, "must be " + expected + ", got " + (got == null ? "nothing" : got.toString()));
    }
}
