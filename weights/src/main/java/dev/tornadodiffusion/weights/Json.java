package dev.tornadodiffusion.weights;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads JSON files ({@code config.json}, {@code model_index.json}, {@code scheduler_config.json}, shard indexes,
 * reference-case {@code meta.json}) with Jackson, as trees; typed access to config fields with the upstream
 * defaults is {@link JsonConfig}. A bad file is a {@link WeightFormatException} naming the file and the problem.
 */
public final class Json {
    // Python's json.dump writes NaN and Infinity (e.g. a scheduler's lambda_min_clipped = -Infinity)
    private static final ObjectMapper MAPPER = JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();

    private Json() {}

    /** The JSON object in {@code file}. */
    public static JsonNode read(Path file) throws IOException {
        return parse(new String(Files.readAllBytes(file), StandardCharsets.UTF_8), file.toString());
    }

    /** The JSON object in {@code text}; {@code source} names it in errors. */
    public static JsonNode parse(String text, String source) {
        JsonNode node;
        try {
            node = tree(MAPPER, text);
        } catch (IOException e) {
            throw new WeightFormatException(source + ": bad JSON: " + (e instanceof JacksonException j ? describe(j) : e.getMessage()), e);
        }
        if (node == null || !node.isObject())
            throw new WeightFormatException(source + ": expected a JSON object, found " + (node == null || node.isMissingNode() ? "nothing" : node.getNodeType().toString().toLowerCase()));
        return node;
    }

    /** The one JSON value in {@code text}, with nothing but white space after it; null when there is none. */
    static JsonNode tree(ObjectMapper mapper, String text) throws IOException {
        try (JsonParser p = mapper.createParser(text)) {
            JsonNode node = mapper.readTree(p);
            if (node != null && p.nextToken() != null) throw new JsonParseException(p, "unexpected data after the JSON value");
            return node;
        }
    }

    /** One line: Jackson's message without its source dump, and the location. */
    static String describe(JacksonException e) {
        StringBuilder sb = new StringBuilder(WeightFormatException.oneLine(String.valueOf(e.getOriginalMessage()), 300));
        JsonLocation at = e.getLocation();
        if (at != null && at.getLineNr() > 0) sb.append(" (line ").append(at.getLineNr()).append(", column ").append(at.getColumnNr()).append(')');
        return sb.toString();
    }
}
