package dev.tornadodiffusion.weights;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads JSON configs ({@code config.json}, {@code model_index.json}, {@code scheduler_config.json}, shard indexes)
 * with Jackson. Typed configs are Java records whose components carry the checkpoint's field names, e.g.
 * {@code record UNetConfig(@JsonProperty("block_out_channels") int[] blockOutChannels, ...)}; fields the record
 * does not name are ignored. A bad file is a {@link WeightFormatException} naming the file (and field).
 */
public final class Json {
    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)              // Python's json.dump writes NaN and Infinity
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)     // configs carry fields a model does not use
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)     // null never silently becomes 0: nullable fields are boxed
            .enable(DeserializationFeature.ACCEPT_SINGLE_VALUE_AS_ARRAY)    // diffusers fields like attention_head_dim are an int or a per-block list
            .build();

    private Json() {}

    /** The JSON object in {@code file}. */
    public static JsonNode read(Path file) throws IOException {
        String text = new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
        JsonNode node;
        try {
            node = tree(MAPPER, text);
        } catch (JacksonException e) {
            throw new WeightFormatException(file + ": bad JSON: " + describe(e), e);
        }
        if (node == null || !node.isObject())
            throw new WeightFormatException(file + ": expected a JSON object, found " + (node == null || node.isMissingNode() ? "nothing" : node.getNodeType().toString().toLowerCase()));
        return node;
    }

    /** The JSON object in {@code file} mapped onto {@code type} (a record with {@code @JsonProperty} names). */
    public static <T> T read(Path file, Class<T> type) throws IOException {
        return convert(read(file), type, file.toString());
    }

    /** {@code node} mapped onto {@code type}; {@code source} names the file in errors. */
    public static <T> T convert(JsonNode node, Class<T> type, String source) {
        try {
            return MAPPER.treeToValue(node, type);
        } catch (JacksonException e) {
            throw new WeightFormatException(source + ": " + describe(e), e);
        }
    }

    /** The one JSON value in {@code text}, with nothing but white space after it; null when there is none. */
    static JsonNode tree(ObjectMapper mapper, String text) throws IOException {
        try (JsonParser p = mapper.createParser(text)) {
            JsonNode node = mapper.readTree(p);
            if (node != null && p.nextToken() != null) throw new JsonParseException(p, "unexpected data after the JSON value");
            return node;
        }
    }

    /** One line: the field path (when known), Jackson's message without its source dump, and the location. */
    static String describe(JacksonException e) {
        StringBuilder sb = new StringBuilder();
        if (e instanceof JsonMappingException m && !m.getPath().isEmpty()) {
            StringBuilder path = new StringBuilder();
            for (JsonMappingException.Reference r : m.getPath()) {
                if (r.getFieldName() != null) path.append(path.isEmpty() ? "" : ".").append(r.getFieldName());
                else if (r.getIndex() >= 0) path.append('[').append(r.getIndex()).append(']');
            }
            sb.append("field ").append(WeightFormatException.quote(path.toString())).append(": ");
        }
        sb.append(WeightFormatException.oneLine(String.valueOf(e.getOriginalMessage()), 300));
        JsonLocation at = e.getLocation();
        if (at != null && at.getLineNr() > 0) sb.append(" (line ").append(at.getLineNr()).append(", column ").append(at.getColumnNr()).append(')');
        return sb.toString();
    }
}
