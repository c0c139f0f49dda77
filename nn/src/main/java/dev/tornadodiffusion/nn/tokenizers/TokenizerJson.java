package dev.tornadodiffusion.nn.tokenizers;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tornadodiffusion.weights.WeightFormatException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Reads a Hugging Face {@code tokenizer.json} into a {@link Tokenizer}. The model's vocabulary (250k entries for
 * XLM-R) is streamed with Jackson's token parser straight into arrays; only the small sections (normalizer,
 * pre-tokenizer, post-processor, added tokens) are read as trees, and nothing of the JSON is kept afterwards.
 * Supported: model Unigram; normalizers Sequence, Precompiled, Strip, Replace; pre-tokenizers Sequence, Metaspace,
 * WhitespaceSplit; post-processor TemplateProcessing. Anything else is a one-line error naming it.
 */
public final class TokenizerJson {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private TokenizerJson() {}

    /** {@code tokenizer.json} itself, or a folder holding it. */
    public static Tokenizer load(Path path) throws IOException {
        Path file = Files.isDirectory(path) ? path.resolve("tokenizer.json") : path;
        if (!Files.isRegularFile(file)) throw new NoSuchFileException(file + " (a Hugging Face tokenizer.json is needed)");
        try (InputStream in = Files.newInputStream(file); JsonParser p = new JsonFactory(MAPPER).createParser(in)) {
            return read(p, file.toString());
        } catch (JsonProcessingException e) {
            throw new WeightFormatException(file + ": not valid JSON (" + e.getOriginalMessage() + ")");
        } catch (IllegalArgumentException e) {
            throw new WeightFormatException(file + ": " + e.getMessage());
        }
    }

    private static Tokenizer read(JsonParser p, String source) throws IOException {
        if (p.nextToken() != JsonToken.START_OBJECT) throw new IllegalArgumentException("the top level is not a JSON object");
        JsonNode normalizer = null, preTokenizer = null, postProcessor = null, addedTokens = null;
        TokenizerModel model = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            p.nextToken();
            switch (field) {
                case "model" -> model = readModel(p);
                case "normalizer" -> normalizer = p.readValueAsTree();
                case "pre_tokenizer" -> preTokenizer = p.readValueAsTree();
                case "post_processor" -> postProcessor = p.readValueAsTree();
                case "added_tokens" -> addedTokens = p.readValueAsTree();
                default -> p.skipChildren();   // version, decoder (ids -> text is not needed), truncation/padding (given per call)
            }
        }
        if (model == null) throw new IllegalArgumentException("no \"model\" section");
        List<AddedToken> added = addedTokens(addedTokens);
        int pad = -1;
        for (AddedToken t : added) if (t.content().equals("<pad>")) pad = t.id();
        if (pad < 0) pad = model.tokenToId("<pad>");
        return new Tokenizer(added, normalizer(normalizer), preTokenizer(preTokenizer), model, postProcessor(postProcessor), pad);
    }

    /** Streams the model object: its vocabulary goes straight into arrays. */
    private static TokenizerModel readModel(JsonParser p) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) throw new IllegalArgumentException("\"model\" is not an object");
        String type = null;
        Integer unkId = null;
        List<String> pieces = new ArrayList<>();
        double[] scores = new double[1024];
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken value = p.nextToken();
            switch (field) {
                case "type" -> type = p.getText();
                case "unk_id" -> unkId = value == JsonToken.VALUE_NULL ? null : Integer.valueOf(p.getIntValue());
                case "byte_fallback" -> {
                    if (value == JsonToken.VALUE_TRUE) throw new IllegalArgumentException("model.byte_fallback true is not supported");
                }
                case "vocab" -> {
                    if (value != JsonToken.START_ARRAY) throw new IllegalArgumentException("model.vocab is not a [piece, score] list (only the Unigram model is supported)");
                    while (p.nextToken() == JsonToken.START_ARRAY) {
                        if (p.nextToken() != JsonToken.VALUE_STRING) throw new IllegalArgumentException("model.vocab[" + pieces.size() + "] does not start with a string");
                        pieces.add(p.getText());
                        if (!p.nextToken().isNumeric()) throw new IllegalArgumentException("model.vocab[" + (pieces.size() - 1) + "] has no numeric score");
                        if (pieces.size() > scores.length) scores = Arrays.copyOf(scores, scores.length * 2);
                        scores[pieces.size() - 1] = p.getDoubleValue();
                        if (p.nextToken() != JsonToken.END_ARRAY) throw new IllegalArgumentException("model.vocab[" + (pieces.size() - 1) + "] has more than [piece, score]");
                    }
                }
                default -> p.skipChildren();
            }
        }
        if (!"Unigram".equals(type)) throw new IllegalArgumentException("model type '" + type + "' is not supported (supported: Unigram)");
        if (unkId == null) throw new IllegalArgumentException("the Unigram model has no unk_id");
        return new Unigram(pieces.toArray(String[]::new), Arrays.copyOf(scores, pieces.size()), unkId);
    }

    private static List<AddedToken> addedTokens(JsonNode list) {
        List<AddedToken> out = new ArrayList<>();
        if (list == null || list.isNull()) return out;
        for (JsonNode t : list) {
            if (t.path("single_word").asBoolean(false))
                throw new IllegalArgumentException("added token '" + t.path("content").asText() + "': single_word is not supported");
            out.add(new AddedToken(t.path("id").asInt(), t.path("content").asText(), t.path("lstrip").asBoolean(false),
                    t.path("rstrip").asBoolean(false), t.path("normalized").asBoolean(false), t.path("special").asBoolean(false)));
        }
        return out;
    }

    private static Normalizer normalizer(JsonNode n) {
        if (n == null || n.isNull()) return null;
        String type = n.path("type").asText();
        return switch (type) {
            case "Sequence" -> {
                List<Normalizer> list = new ArrayList<>();
                for (JsonNode c : n.path("normalizers")) list.add(normalizer(c));
                yield new Normalizer.Sequence(List.copyOf(list));
            }
            case "Precompiled" -> Precompiled.fromBase64(n.path("precompiled_charsmap").asText());
            case "Strip" -> new Normalizer.Strip(n.path("strip_left").asBoolean(), n.path("strip_right").asBoolean());
            case "Replace" -> new Normalizer.Replace(pattern(n.path("pattern"), "normalizer Replace"), n.path("content").asText());
            default -> throw new IllegalArgumentException("normalizer type '" + type + "' is not supported (supported: Sequence, Precompiled, Strip, Replace)");
        };
    }

    private static PreTokenizer preTokenizer(JsonNode n) {
        if (n == null || n.isNull()) return null;
        String type = n.path("type").asText();
        return switch (type) {
            case "Sequence" -> {
                List<PreTokenizer> list = new ArrayList<>();
                for (JsonNode c : n.path("pretokenizers")) list.add(preTokenizer(c));
                yield new PreTokenizer.Sequence(List.copyOf(list));
            }
            case "Metaspace" -> {
                String rep = n.path("replacement").asText("▁");
                if (rep.length() != 1) throw new IllegalArgumentException("Metaspace replacement '" + rep + "' is not one character");
                String scheme = n.has("prepend_scheme") ? n.path("prepend_scheme").asText()
                        : n.path("add_prefix_space").asBoolean(true) ? "always" : "never";   // older files: add_prefix_space
                PreTokenizer.PrependScheme s = switch (scheme) {
                    case "always" -> PreTokenizer.PrependScheme.ALWAYS;
                    case "first" -> PreTokenizer.PrependScheme.FIRST;
                    case "never" -> PreTokenizer.PrependScheme.NEVER;
                    default -> throw new IllegalArgumentException("Metaspace prepend_scheme '" + scheme + "' is not one of always, first, never");
                };
                yield new PreTokenizer.Metaspace(rep.charAt(0), s, n.path("split").asBoolean(true));
            }
            case "WhitespaceSplit" -> new PreTokenizer.WhitespaceSplit();
            default -> throw new IllegalArgumentException("pre_tokenizer type '" + type + "' is not supported (supported: Sequence, Metaspace, WhitespaceSplit)");
        };
    }

    private static TemplateProcessing postProcessor(JsonNode n) {
        if (n == null || n.isNull()) return null;
        String type = n.path("type").asText();
        if (!type.equals("TemplateProcessing")) throw new IllegalArgumentException("post_processor type '" + type + "' is not supported (supported: TemplateProcessing)");
        List<int[]> items = new ArrayList<>();
        for (JsonNode item : n.path("single")) {
            if (item.has("Sequence")) { items.add(null); continue; }
            String name = item.path("SpecialToken").path("id").asText();
            JsonNode special = n.path("special_tokens").path(name);
            if (!special.path("ids").isArray()) throw new IllegalArgumentException("post_processor: special token '" + name + "' is not in special_tokens");
            int[] ids = new int[special.path("ids").size()];
            for (int i = 0; i < ids.length; i++) ids[i] = special.path("ids").get(i).asInt();
            items.add(ids);
        }
        return new TemplateProcessing(items.toArray(int[][]::new));
    }

    private static Pattern pattern(JsonNode p, String where) {
        if (p.has("Regex")) return Pattern.compile(p.path("Regex").asText());
        if (p.has("String")) return Pattern.compile(Pattern.quote(p.path("String").asText()));
        throw new IllegalArgumentException(where + ": pattern is neither {\"String\": ...} nor {\"Regex\": ...}");
    }
}
