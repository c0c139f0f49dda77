package dev.tornadodiffusion.nn.clip;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tornadodiffusion.nn.Fixtures;
import dev.tornadodiffusion.weights.WeightFormatException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ClipTokenizerTest {
    static final Path FIXTURE = Fixtures.path("clip-tokenizer");

    static ClipTokenizer clip;
    static JsonNode prompts;

    @BeforeAll
    static void load() throws IOException {
        clip = ClipTokenizer.load(FIXTURE);
        prompts = new ObjectMapper().readTree(FIXTURE.resolve("prompts.json").toFile()).get("prompts");
    }

    @Test
    void fixturePromptsGiveTheReferenceIds() {
        assertEquals(40, prompts.size());
        for (JsonNode p : prompts) {
            String text = p.get("text").asText();
            assertArrayEquals(ints(p.get("ids")), clip.encode(text), text);
            assertArrayEquals(ints(p.get("input_ids")), clip.tokenizeUnpadded(text, true), text);
            assertArrayEquals(ints(p.get("input_ids_pad_eot")), clip.tokenize(text), text);
        }
    }

    @Test
    void secondSdxlTokenizerPadsWithExclamationMark(@TempDir Path dir) throws IOException {
        copyVocabAndMerges(dir);
        // SDXL's tokenizer_2 folder: AddedToken objects for most tokens, a plain string for pad_token
        Files.writeString(dir.resolve("special_tokens_map.json"), """
                {"bos_token": {"content": "<|startoftext|>", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false},
                 "eos_token": {"content": "<|endoftext|>", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false},
                 "pad_token": "!",
                 "unk_token": {"content": "<|endoftext|>", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false}}
                """);
        ClipTokenizer sdxl2 = ClipTokenizer.load(dir);
        assertEquals(0, sdxl2.padId());
        assertEquals(49406, sdxl2.bosId());
        assertEquals(49407, sdxl2.eosId());
        for (JsonNode p : prompts) {
            assertArrayEquals(ints(p.get("input_ids_pad_zero")), sdxl2.tokenize(p.get("text").asText()), p.get("text").asText());
        }
    }

    @Test
    void defaultsAreClipTokenizers() {
        assertEquals(49406, clip.bosId());
        assertEquals(49407, clip.eosId());
        assertEquals(49407, clip.padId());
        assertEquals(77, clip.maxLength());
        assertEquals(49408, clip.vocabSize());
    }

    @Test
    void longPromptIsCutKeepingTheEndTokenOrRefused() {
        JsonNode longest = null;
        for (JsonNode p : prompts) if (p.get("truncated").asBoolean()) longest = p;
        String text = longest.get("text").asText();
        int count = longest.get("num_tokens_with_sot_eot").asInt();
        assertTrue(count > 77);

        int[] ids = clip.tokenize(text);
        int[] body = clip.encode(text);
        assertEquals(77, ids.length);
        assertEquals(49406, ids[0]);
        assertEquals(49407, ids[76]);
        for (int i = 1; i < 76; i++) assertEquals(body[i - 1], ids[i]);
        assertArrayEquals(ids, clip.tokenizeUnpadded(text, true));

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> clip.tokenize(text, false));
        assertTrue(e.getMessage().startsWith("prompt is " + count + " tokens, the limit is 77"), e.getMessage());
        // exactly 77 with start and end tokens still fits
        String fits = "a ".repeat(75);
        assertEquals(77, clip.tokenizeUnpadded(fits, false).length);
        assertThrows(IllegalArgumentException.class, () -> clip.tokenize(fits + "a", false));
    }

    @Test
    void literalSpecialTokensBecomeTheirIds() {
        assertArrayEquals(new int[] {49406, 2912, 49407, 4160}, clip.encode("<|startoftext|>inside<|endoftext|> text"));
        assertArrayEquals(new int[] {49407}, clip.encode("<|ENDOFTEXT|>"));
    }

    @Test
    void cleanUpCollapsesWhitespaceAndLowerCasesLikePython() {
        assertEquals("a b c …d", ClipTokenizer.clean("  A \t\u00A0 B\u2003C\r\n\u0085D  "));
        assertEquals("x y", ClipTokenizer.clean("x\u3000\u3000y"));
        assertEquals("z", ClipTokenizer.clean("  &nbsp;&amp;nbsp; z "));
        assertEquals("", ClipTokenizer.clean(" \n\t "));
        // Python's final-sigma rule skips case-ignorable "." and "'" (Java's word-boundary rule would not)
        assertEquals("οδοσ.'s οδος", ClipTokenizer.clean("ΟΔΟΣ.'s ΟΔΟΣ"));
        assertEquals("i\u0307stanbul", ClipTokenizer.clean("İSTANBUL"));
    }

    @Test
    void decodeReversesTheByteLevelMapping() {
        assertEquals("a photograph of an astronaut riding a horse ", clip.decode(clip.encode("a photograph of an astronaut riding a horse")));
        assertEquals("café 日本語 🚀 ", clip.decode(clip.encode("Café 日本語 🚀")));
        assertEquals("<|startoftext|>hi <|endoftext|>", clip.decode(clip.tokenizeUnpadded("hi", true)));
        assertThrows(IllegalArgumentException.class, () -> clip.decode(new int[] {49408}));
    }

    @Test
    void bpeMergesTheLowestRankedPairFirst(@TempDir Path dir) throws IOException {
        writeTokenizer(dir, List.of("l o", "lo w", "e r</w>", "low er</w>", "e s", "es t</w>", "a a</w>", "a a"),
                "l", "o", "w", "e", "r", "s", "t", "a", "r</w>", "t</w>", "a</w>", "lo", "low", "er</w>", "lower</w>", "es", "est</w>", "aa</w>", "aa");
        ClipTokenizer tokenizer = ClipTokenizer.load(dir);
        assertEquals(List.of("lower</w>"), tokenizer.bpe("lower"));
        assertEquals(List.of("low", "est</w>"), tokenizer.bpe("lowest"));
        assertEquals(List.of("a", "aa</w>"), tokenizer.bpe("aaa")); // "a a</w>" outranks "a a"
        assertEquals(List.of("aa", "a", "aa</w>"), tokenizer.bpe("aaaaa")); // then "a a" wherever it occurs, left to right
        assertEquals(List.of("w</w>"), tokenizer.bpe("w"));
        assertEquals(List.of("<|endoftext|>"), tokenizer.bpe("<|endoftext|>"));
    }

    @Test
    void handMadeVocabularyIdsAndUnknownSymbols(@TempDir Path dir) throws IOException {
        Map<String, Integer> vocab = writeTokenizer(dir, List.of("l o", "lo w", "e r</w>", "low er</w>"),
                "l", "o", "w", "e", "r", "lo", "low", "er</w>", "lower</w>", "w</w>");
        ClipTokenizer tokenizer = ClipTokenizer.load(dir);
        int eos = vocab.get("<|endoftext|>");
        // "x</w>" is not in the vocabulary: it becomes unk_token, which (like pad_token) defaults to <|endoftext|>
        assertArrayEquals(new int[] {vocab.get("lower</w>"), vocab.get("w</w>"), eos}, tokenizer.encode("LOWER w x"));
        int[] padded = tokenizer.tokenize("lower");
        assertEquals(77, padded.length);
        assertArrayEquals(new int[] {vocab.get("<|startoftext|>"), vocab.get("lower</w>"), eos, eos}, Arrays.copyOf(padded, 4));
    }

    @Test
    void tokenizerConfigSetsLengthAndSpecialTokens(@TempDir Path dir) throws IOException {
        Map<String, Integer> vocab = writeTokenizer(dir, List.of("l o"), "l", "o", "lo", "o</w>", "!");
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"model_max_length": 6, "pad_token": {"__type": "AddedToken", "content": "!"}, "do_lower_case": true}
                """);
        ClipTokenizer tokenizer = ClipTokenizer.load(dir);
        assertEquals(6, tokenizer.maxLength());
        int bos = vocab.get("<|startoftext|>"), eos = vocab.get("<|endoftext|>"), pad = vocab.get("!"), o = vocab.get("o</w>");
        assertArrayEquals(new int[] {bos, o, o, eos, pad, pad}, tokenizer.tokenize("o o"));
        assertArrayEquals(new int[] {bos, o, o, o, o, eos}, tokenizer.tokenize("o o o o o o"));

        // special_tokens_map.json wins over tokenizer_config.json; HF's "no limit" number means CLIP's 77
        Files.writeString(dir.resolve("special_tokens_map.json"), "{\"pad_token\": \"<|endoftext|>\"}");
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"model_max_length\": 1000000000000000019884624838656}");
        tokenizer = ClipTokenizer.load(dir);
        assertEquals(eos, tokenizer.padId());
        assertEquals(77, tokenizer.maxLength());
    }

    @Test
    void brokenFoldersGiveOneLineErrorsNamingTheFile(@TempDir Path dir) throws IOException {
        NoSuchFileException missing = assertThrows(NoSuchFileException.class, () -> ClipTokenizer.load(dir));
        assertTrue(missing.getMessage().contains("vocab.json"), missing.getMessage());

        writeTokenizer(dir, List.of("l o"), "l", "o", "lo");
        Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\nl o\nthree symbols here\n");
        assertError(dir, "merges.txt line 3");
        Files.writeString(dir.resolve("merges.txt"), "l o\n");
        assertError(dir, "merges.txt: first line is not the '#version' header");
        Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\nl o\n");

        Files.writeString(dir.resolve("special_tokens_map.json"), "{\"pad_token\": \"<pad>\"}");
        assertError(dir, "vocab.json: has no id for pad_token '<pad>'");
        Files.writeString(dir.resolve("special_tokens_map.json"), "{\"pad_token\": 7}");
        assertError(dir, "special_tokens_map.json: pad_token is neither a string");
        Files.delete(dir.resolve("special_tokens_map.json"));

        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"model_max_length\": 1}");
        assertError(dir, "tokenizer_config.json: model_max_length 1");
        Files.writeString(dir.resolve("tokenizer_config.json"), "{not json");
        assertError(dir, "tokenizer_config.json: bad JSON");
        Files.delete(dir.resolve("tokenizer_config.json"));

        Files.writeString(dir.resolve("vocab.json"), "{\"a\": \"one\"}");
        assertError(dir, "vocab.json: id of token 'a' is not an integer");
        Files.writeString(dir.resolve("vocab.json"), "[1, 2]");
        assertError(dir, "vocab.json: expected a JSON object");
    }

    private static void assertError(Path dir, String expected) {
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> ClipTokenizer.load(dir));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertTrue(e.getMessage().indexOf('\n') < 0, e.getMessage());
    }

    /** Writes vocab.json (the given tokens, then the two specials) and merges.txt; returns the vocabulary. */
    private static Map<String, Integer> writeTokenizer(Path dir, List<String> merges, String... tokens) throws IOException {
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (String t : tokens) vocab.put(t, vocab.size());
        vocab.put(ClipTokenizer.START_OF_TEXT, vocab.size());
        vocab.put(ClipTokenizer.END_OF_TEXT, vocab.size());
        new ObjectMapper().writeValue(dir.resolve("vocab.json").toFile(), vocab);
        Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\n" + String.join("\n", merges) + "\n");
        return vocab;
    }

    private static void copyVocabAndMerges(Path dir) throws IOException {
        Files.copy(FIXTURE.resolve("vocab.json"), dir.resolve("vocab.json"));
        Files.copy(FIXTURE.resolve("merges.txt"), dir.resolve("merges.txt"));
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
        return out;
    }
}
