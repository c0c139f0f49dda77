package dev.tornadodiffusion.nn.tokenizers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tornadodiffusion.nn.Fixtures;
import dev.tornadodiffusion.weights.WeightFormatException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class XlmrTokenizerTest {
    static final Path FIXTURE = Fixtures.path("xlmr-tokenizer");
    static Tokenizer tok;
    static JsonNode prompts;

    @BeforeAll
    static void load() throws IOException {
        tok = TokenizerJson.load(FIXTURE);
        prompts = new ObjectMapper().readTree(FIXTURE.resolve("prompts.json").toFile()).get("prompts");
    }

    /** Per prompt, so a failure names the text. */
    @Test
    void idsPerPrompt() {
        assertEquals(60, prompts.size());
        for (JsonNode p : prompts) {
            String text = p.get("text").asText();
            assertEquals(p.get("normalized").asText(), tok.normalize(text), text);
            assertArrayEquals(ints(p.get("ids")), tok.encodeIds(text), text);
            assertArrayEquals(ints(p.get("input_ids_64")), tok.encode(text, 64).input_ids(), text);
        }
    }

    @Test
    void specialIdsAndVocabulary() {
        assertEquals(3002, tok.vocabSize());
        assertEquals(1, tok.padId());
        assertEquals("<mask>", tok.idToToken(3001));
        assertArrayEquals(new int[]{0, 2}, tok.encode(""));
        Tokenizer.Encoding e = tok.encode("a", 4);
        assertArrayEquals(new int[]{0, tok.model().tokenToId("▁a"), 2, 1}, e.input_ids());
        assertArrayEquals(new int[]{1, 1, 1, 0}, e.attention_mask());
    }

    /** A tokenizer.json the size of XLM-R's (250002 pieces), made from the fixture's by widening its vocabulary. */
    @Test
    void aFullSizeVocabularyLoadsQuickly(@TempDir Path dir) throws IOException {
        ObjectNode json = (ObjectNode) new ObjectMapper().readTree(FIXTURE.resolve("tokenizer.json").toFile());
        ArrayNode vocab = (ArrayNode) json.get("model").get("vocab");
        JsonNode mask = vocab.remove(vocab.size() - 1);
        for (int i = vocab.size(); i < 250001; i++) vocab.addArray().add("▁synthetic" + i).add(-12.0 - i * 1e-5);
        vocab.add(mask);
        Path file = dir.resolve("tokenizer.json");
        new ObjectMapper().writeValue(file.toFile(), json);
        long best = Long.MAX_VALUE;
        Tokenizer big = null;
        for (int i = 0; i < 3; i++) {
            long t0 = System.nanoTime();
            big = TokenizerJson.load(file);
            best = Math.min(best, System.nanoTime() - t0);
        }
        System.out.printf("250002-piece tokenizer.json (%.1f MB) loads in %.0f ms (best of 3)%n", Files.size(file) / 1e6, best / 1e6);
        assertEquals(250002, big.vocabSize());
        assertArrayEquals(new int[]{0, 250000, 2}, big.encode("synthetic250000"));
        assertArrayEquals(tok.encode("Кошка сидит на подоконнике"), big.encode("Кошка сидит на подоконнике"));
        assertTrue(best < 2_000_000_000L, "load took " + best / 1e6 + " ms");
    }

    @Test
    void unsupportedPartsAreOneLineErrors(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}");
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> TokenizerJson.load(dir));
        assertTrue(e.getMessage().contains("not a [piece, score] list"), e.getMessage());
        Files.writeString(dir.resolve("tokenizer.json"), "{\"normalizer\": {\"type\": \"NFKC\"}, \"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"vocab\": [[\"<unk>\", 0.0]]}}");
        e = assertThrows(WeightFormatException.class, () -> TokenizerJson.load(dir));
        assertTrue(e.getMessage().contains("normalizer type 'NFKC' is not supported"), e.getMessage());
        Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"<unk>\", 0.0]");
        e = assertThrows(WeightFormatException.class, () -> TokenizerJson.load(dir));
        assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
    }

    private static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }
}
