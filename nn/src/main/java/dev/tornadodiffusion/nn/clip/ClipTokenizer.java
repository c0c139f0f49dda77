package dev.tornadodiffusion.nn.clip;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Json;
import dev.tornadodiffusion.weights.WeightFormatException;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;

/**
 * CLIP's byte-level BPE tokenizer, as OpenAI's {@code SimpleTokenizer} / {@code clip.tokenize} and Hugging Face's
 * {@code CLIPTokenizer} (with ftfy) compute it, loaded from a Hugging Face tokenizer folder ({@code vocab.json},
 * {@code merges.txt}, optionally {@code tokenizer_config.json} and {@code special_tokens_map.json}).
 *
 * <p>A prompt is cleaned ({@link Ftfy ftfy.fix_text}, HTML unescaped twice, whitespace collapsed, lower-cased),
 * split by CLIP's regex into words, numbers (one digit each) and punctuation runs, and each piece is turned
 * into its UTF-8 bytes, mapped to printable characters and merged pairwise in merge-rank order, the last symbol
 * of a piece carrying the end-of-word mark {@code </w>}. Instances are immutable and thread-safe.
 */
public final class ClipTokenizer {
    public static final String START_OF_TEXT = "<|startoftext|>";
    public static final String END_OF_TEXT = "<|endoftext|>";
    /** CLIP's context: its text encoders have 77 positions. */
    public static final int CONTEXT_LENGTH = 77;

    /** CLIP's vocabulary is 49152 tokens: 256 bytes, 256 bytes with {@code </w>}, the merges and 2 specials; HF reads no more merges than that. */
    private static final int MAX_MERGES = 49152 - 256 - 2;
    private static final String END_OF_WORD = "</w>";
    private static final int CACHE_LIMIT = 1 << 16;
    /** Far above any real vocabulary; keeps a broken vocab.json from sizing the id -> token table. */
    private static final int MAX_ID = 1 << 24;

    private static final Pattern TOKEN = Pattern.compile(
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
            Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE);
    private static final Pattern WHITESPACE = Pattern.compile("[" + Ftfy.PYTHON_WHITESPACE + "]+");
    private static final char[] BYTE_ENCODER = bytesToUnicode();

    private final Map<String, Integer> vocab;
    private final String[] tokens;
    private final Map<String, Integer> mergeRanks;
    private final int bosId, eosId, padId, unkId;
    private final int maxLength;
    /** byte-mapped piece -> ids; pieces repeat a lot across prompts. */
    private final Map<String, int[]> cache = new ConcurrentHashMap<>();

    private ClipTokenizer(Map<String, Integer> vocab, String[] tokens, Map<String, Integer> mergeRanks,
                          int bosId, int eosId, int padId, int unkId, int maxLength) {
        this.vocab = vocab;
        this.tokens = tokens;
        this.mergeRanks = mergeRanks;
        this.bosId = bosId;
        this.eosId = eosId;
        this.padId = padId;
        this.unkId = unkId;
        this.maxLength = maxLength;
    }

    /**
     * Loads a tokenizer folder. The special tokens default to CLIPTokenizer's ({@code <|startoftext|>},
     * {@code <|endoftext|>}, padding with {@code <|endoftext|>}); {@code tokenizer_config.json} and then
     * {@code special_tokens_map.json} override them (SDXL's second tokenizer pads with "!").
     * {@code model_max_length} sets the padded length, {@value #CONTEXT_LENGTH} when absent or unset.
     */
    public static ClipTokenizer load(Path dir) throws IOException {
        Path vocabFile = dir.resolve("vocab.json"), mergesFile = dir.resolve("merges.txt");
        Map<String, Integer> vocab = readVocab(vocabFile);
        String[] tokens = new String[vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1];
        vocab.forEach((token, id) -> tokens[id] = token);
        Map<String, Integer> mergeRanks = readMerges(mergesFile);

        Map<String, String> special = new HashMap<>(Map.of(
                "bos_token", START_OF_TEXT, "eos_token", END_OF_TEXT, "pad_token", END_OF_TEXT, "unk_token", END_OF_TEXT));
        int maxLength = CONTEXT_LENGTH;
        Path configFile = dir.resolve("tokenizer_config.json");
        JsonNode config = readJsonIfPresent(configFile);
        if (config != null) {
            readSpecialTokens(config, configFile, special);
            JsonNode max = config.get("model_max_length");
            // HF writes a huge number (1e30) for "no limit"; CLIP's limit is then its context length
            if (max != null && max.canConvertToInt() && max.isIntegralNumber() && max.intValue() <= 1 << 20) {
                maxLength = max.intValue();
                if (maxLength < 2) throw new WeightFormatException(configFile + ": model_max_length " + maxLength + " leaves no room for the start and end tokens");
            }
        }
        Path mapFile = dir.resolve("special_tokens_map.json");
        JsonNode map = readJsonIfPresent(mapFile);
        if (map != null) readSpecialTokens(map, mapFile, special);

        int bos = requireId(vocab, special, "bos_token", vocabFile);
        int eos = requireId(vocab, special, "eos_token", vocabFile);
        int pad = requireId(vocab, special, "pad_token", vocabFile);
        int unk = vocab.getOrDefault(special.get("unk_token"), -1);
        return new ClipTokenizer(vocab, tokens, mergeRanks, bos, eos, pad, unk, maxLength);
    }

    public int bosId() { return bosId; }

    public int eosId() { return eosId; }

    public int padId() { return padId; }

    /** Length of {@link #tokenize} results (77 for CLIP). */
    public int maxLength() { return maxLength; }

    public int vocabSize() { return vocab.size(); }

    /** The id of a vocabulary entry as written in vocab.json (e.g. "!" = 0, which SDXL's second tokenizer pads with). */
    public int tokenId(String token) {
        Integer id = vocab.get(token);
        if (id == null) throw new IllegalArgumentException("'" + token + "' is not in the vocabulary");
        return id;
    }

    /** The prompt's token ids, without start/end tokens and without any length limit ({@code SimpleTokenizer.encode}). */
    public int[] encode(String text) {
        IntStream.Builder ids = IntStream.builder();
        Matcher m = TOKEN.matcher(clean(text));
        while (m.find()) for (int id : pieceIds(m.group())) ids.add(id);
        return ids.build().toArray();
    }

    /** {@link #maxLength()} ids: start token, the prompt's ids (cut so that the end token fits), end token, padding. */
    public int[] tokenize(String text) {
        return tokenize(text, true);
    }

    /** {@link #tokenize(String)} as the [1, maxLength] int64 input_ids a text encoder takes. */
    public Tensor inputIds(String text) {
        int[] ids = tokenize(text);
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) l[i] = ids[i];
        return Tensor.ofLongs(l, 1, ids.length);
    }

    /**
     * Like {@link #tokenize(String)}; with {@code truncate} false, a prompt that does not fit is an
     * IllegalArgumentException instead of being cut.
     */
    public int[] tokenize(String text, boolean truncate) {
        int[] ids = tokenizeUnpadded(text, truncate);
        int[] padded = Arrays.copyOf(ids, maxLength);
        Arrays.fill(padded, ids.length, maxLength, padId);
        return padded;
    }

    /** Start token, the prompt's ids, end token: at most {@link #maxLength()} ids, cut (keeping the end token) or refused when longer. */
    public int[] tokenizeUnpadded(String text, boolean truncate) {
        int[] body = encode(text);
        int count = body.length + 2;
        if (count > maxLength && !truncate) {
            throw new IllegalArgumentException("prompt is " + count + " tokens, the limit is " + maxLength + " (counting the start and end tokens)");
        }
        int length = Math.min(count, maxLength);
        int[] ids = new int[length];
        ids[0] = bosId;
        System.arraycopy(body, 0, ids, 1, length - 2);
        ids[length - 1] = eosId;
        return ids;
    }

    /** The text of token ids, as SimpleTokenizer.decode gives it: each end-of-word mark becomes a space; special tokens are kept. */
    public String decode(int[] ids) {
        StringBuilder symbols = new StringBuilder();
        for (int id : ids) {
            if (id < 0 || id >= tokens.length || tokens[id] == null) throw new IllegalArgumentException("token id " + id + " is not in the vocabulary");
            symbols.append(tokens[id]);
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(symbols.length());
        for (int i = 0; i < symbols.length(); i++) bytes.write(byteOf(symbols.charAt(i)));
        return bytes.toString(StandardCharsets.UTF_8).replace(END_OF_WORD, " ");
    }

    /** SimpleTokenizer's clean-up: ftfy, HTML entities (twice), whitespace runs to one space, trimmed, lower case. */
    static String clean(String text) {
        text = HtmlEntities.unescape(HtmlEntities.unescape(Ftfy.fixText(text)));
        return lowerCase(WHITESPACE.matcher(text).replaceAll(" ").strip());
    }

    /**
     * Python's {@code str.lower()}: Unicode's simple lower-case mappings, İ -> "i̇", and Σ -> ς only in Unicode's
     * Final_Sigma context (after a cased letter, not before one, case-ignorable characters such as "'" and "."
     * skipped). Java's toLowerCase decides the final sigma by word boundaries instead, so "ΟΔΟΣ.'s" would differ.
     */
    static String lowerCase(String text) {
        StringBuilder out = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            if (cp == 0x130) out.append("i\u0307");
            else if (cp == 0x3A3) out.append(isFinalSigma(text, i) ? 'ς' : 'σ');
            else out.appendCodePoint(Character.toLowerCase(cp));
            i += Character.charCount(cp);
        }
        return out.toString();
    }

    private static boolean isFinalSigma(String text, int index) {
        int before = index;
        int cp = 0;
        while (before > 0) {
            cp = text.codePointBefore(before);
            if (!isCaseIgnorable(cp)) break;
            before -= Character.charCount(cp);
        }
        if (before == 0 || !isCased(cp)) return false;
        for (int after = index + 1; after < text.length(); after += Character.charCount(cp)) {
            cp = text.codePointAt(after);
            if (!isCaseIgnorable(cp)) return !isCased(cp);
        }
        return true;
    }

    private static boolean isCased(int cp) {
        return Character.isLowerCase(cp) || Character.isUpperCase(cp) || Character.isTitleCase(cp);
    }

    /** Unicode's Case_Ignorable: marks, format controls, modifier letters and symbols, and the apostrophes, dots and colons inside words. */
    private static boolean isCaseIgnorable(int cp) {
        return switch (Character.getType(cp)) {
            case Character.NON_SPACING_MARK, Character.ENCLOSING_MARK, Character.FORMAT, Character.MODIFIER_LETTER, Character.MODIFIER_SYMBOL -> true;
            default -> switch (cp) {
                case '\'', '.', ':', 0x00B7, 0x0387, 0x055F, 0x05F4, 0x2018, 0x2019, 0x2024, 0x2027, 0xFE13, 0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A -> true;
                default -> false;
            };
        };
    }

    private int[] pieceIds(String piece) {
        byte[] utf8 = piece.getBytes(StandardCharsets.UTF_8);
        char[] mapped = new char[utf8.length];
        for (int i = 0; i < utf8.length; i++) mapped[i] = BYTE_ENCODER[utf8[i] & 0xFF];
        String key = new String(mapped);
        int[] ids = cache.get(key);
        if (ids == null) {
            List<String> symbols = bpe(key);
            ids = new int[symbols.size()];
            for (int i = 0; i < ids.length; i++) {
                Integer id = vocab.get(symbols.get(i));
                if (id == null && unkId < 0) throw new IllegalArgumentException("token '" + symbols.get(i) + "' is not in vocab.json and there is no unk_token");
                ids[i] = id != null ? id : unkId;
            }
            if (cache.size() >= CACHE_LIMIT) cache.clear();
            cache.put(key, ids);
        }
        return ids;
    }

    /**
     * Byte-pair merging of one piece: start from its characters (the last one marked end-of-word), then
     * repeatedly merge every occurrence of the adjacent pair with the lowest merge rank, until no pair has one.
     */
    List<String> bpe(String piece) {
        if (piece.equals(START_OF_TEXT) || piece.equals(END_OF_TEXT)) return List.of(piece);
        List<String> word = new ArrayList<>(piece.length());
        for (int i = 0; i < piece.length() - 1; i++) word.add(String.valueOf(piece.charAt(i)));
        word.add(piece.charAt(piece.length() - 1) + END_OF_WORD);
        while (word.size() > 1) {
            int best = Integer.MAX_VALUE;
            String first = null, second = null;
            for (int i = 0; i + 1 < word.size(); i++) {
                Integer rank = mergeRanks.get(word.get(i) + " " + word.get(i + 1));
                if (rank != null && rank < best) {
                    best = rank;
                    first = word.get(i);
                    second = word.get(i + 1);
                }
            }
            if (first == null) break;
            List<String> merged = new ArrayList<>(word.size());
            for (int i = 0; i < word.size(); i++) {
                if (i + 1 < word.size() && word.get(i).equals(first) && word.get(i + 1).equals(second)) {
                    merged.add(first + second);
                    i++;
                } else {
                    merged.add(word.get(i));
                }
            }
            word = merged;
        }
        return word;
    }

    /**
     * GPT-2's reversible byte -> character map: printable Latin-1 bytes stand for themselves, the other 68
     * bytes (controls, space, DEL, NBSP, soft hyphen...) take the characters from U+0100 on, in byte order.
     */
    private static char[] bytesToUnicode() {
        char[] map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char) b : (char) next++;
        }
        return map;
    }

    private static int byteOf(char c) {
        for (int b = 0; b < 256; b++) if (BYTE_ENCODER[b] == c) return b;
        throw new IllegalArgumentException("character U+" + Integer.toHexString(c) + " is not a byte-level token character");
    }

    private static Map<String, Integer> readVocab(Path file) throws IOException {
        if (!Files.exists(file)) throw new NoSuchFileException(file.toString(), null, "missing (a CLIP tokenizer folder has vocab.json and merges.txt)");
        Map<String, Integer> vocab = new HashMap<>(1 << 17);
        try (JsonParser p = new JsonFactory().createParser(file.toFile())) {
            if (p.nextToken() != JsonToken.START_OBJECT) throw new WeightFormatException(file + ": expected a JSON object of token -> id");
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String token = p.currentName();
                if (p.nextToken() != JsonToken.VALUE_NUMBER_INT || p.getLongValue() < 0 || p.getLongValue() >= MAX_ID) {
                    throw new WeightFormatException(file + ": id of token '" + token + "' is not an integer in [0, " + MAX_ID + ")");
                }
                vocab.put(token, p.getIntValue());
            }
        } catch (JsonProcessingException e) {
            throw new WeightFormatException(file + ": not valid JSON (" + e.getOriginalMessage() + ")", e);
        }
        return vocab;
    }

    /** merges.txt: a "#version" line, then one "left right" pair per line; the line order is the merge rank. */
    private static Map<String, Integer> readMerges(Path file) throws IOException {
        if (!Files.exists(file)) throw new NoSuchFileException(file.toString(), null, "missing (a CLIP tokenizer folder has vocab.json and merges.txt)");
        String[] lines = Files.readString(file, StandardCharsets.UTF_8).strip().split("\n");
        // CLIPTokenizer skips the first line unread; a file without the header would lose its first merge
        if (!lines[0].startsWith("#version")) throw new WeightFormatException(file + ": first line is not the '#version' header");
        int count = Math.min(lines.length - 1, MAX_MERGES);
        Map<String, Integer> ranks = new HashMap<>(2 * count);
        for (int rank = 0; rank < count; rank++) {
            String line = lines[rank + 1].strip();
            int space = line.indexOf(' ');
            if (space <= 0 || line.indexOf(' ', space + 1) >= 0) throw new WeightFormatException(file + " line " + (rank + 2) + ": expected two symbols separated by a space");
            ranks.put(line, rank);
        }
        return ranks;
    }

    private static JsonNode readJsonIfPresent(Path file) throws IOException {
        return Files.exists(file) ? Json.read(file) : null;
    }

    /** Special tokens are written as a string or as an AddedToken object with a "content" field. */
    private static void readSpecialTokens(JsonNode json, Path file, Map<String, String> special) {
        for (String key : List.copyOf(special.keySet())) {
            JsonNode value = json.get(key);
            if (value == null || value.isNull()) continue;
            JsonNode content = value.isObject() ? value.get("content") : value;
            if (content == null || !content.isTextual()) throw new WeightFormatException(file + ": " + key + " is neither a string nor an object with a \"content\" string");
            special.put(key, content.asText());
        }
    }

    private static int requireId(Map<String, Integer> vocab, Map<String, String> special, String key, Path vocabFile) {
        Integer id = vocab.get(special.get(key));
        if (id == null) throw new WeightFormatException(vocabFile + ": has no id for " + key + " '" + special.get(key) + "'");
        return id;
    }
}
