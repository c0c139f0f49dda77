package dev.tornadodiffusion.diffusion.prompts;

import dev.tornadodiffusion.diffusion.Fixtures;
import dev.tornadodiffusion.nn.clip.ClipTokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

class PromptChunksTest {
    static ClipTokenizer tokenizer;

    @BeforeAll
    static void load() throws Exception {
        tokenizer = ClipTokenizer.load(Fixtures.path("clip-tokenizer"));
    }

    @Test
    void aLongPromptKeepsItsTail() {
        String head = "a red fox ".repeat(50); // 150 tokens
        PromptChunks a = PromptChunks.of(head + "in the snow", tokenizer, true);
        PromptChunks b = PromptChunks.of(head + "in the rain", tokenizer, true);
        assertEquals(3, a.chunks().size());
        assertEquals(153, a.tokenCount());
        assertFalse(Arrays.equals(a.chunks().get(2).tokens(), b.chunks().get(2).tokens()));
        for (PromptChunks.Chunk c : a.chunks()) {
            assertEquals(77, c.tokens().length);
            assertEquals(tokenizer.bosId(), c.tokens()[0]);
            assertEquals(tokenizer.eosId(), c.tokens()[76]);
        }
    }

    @Test
    void weightsGoToTheirTokensUnlessLiteral() {
        PromptChunks weighted = PromptChunks.of("a (red:1.3) cat", tokenizer, true);
        PromptChunks plain = PromptChunks.of("a red cat", tokenizer, true);
        PromptChunks literal = PromptChunks.of("a (red:1.3) cat", tokenizer, false);
        assertArrayEquals(plain.chunks().getFirst().tokens(), weighted.chunks().getFirst().tokens());
        assertEquals(1.3f, weighted.chunks().getFirst().multipliers()[2]);
        assertEquals(1f, weighted.chunks().getFirst().multipliers()[1]);
        assertFalse(Arrays.equals(plain.chunks().getFirst().tokens(), literal.chunks().getFirst().tokens()));
        for (float m : literal.chunks().getFirst().multipliers()) assertEquals(1f, m);
    }

    @Test
    void breakStartsANewChunkAndCommasCarryWordsOver() {
        assertEquals(2, PromptChunks.of("sky BREAK sea", tokenizer, true).chunks().size());
        // 70 tokens, a comma at 70, then 10 more words: the chunk fills at 75 and the words after the comma move on
        String prompt = "fox ".repeat(70) + ", " + "cat ".repeat(10);
        PromptChunks c = PromptChunks.of(prompt, tokenizer, true);
        assertEquals(2, c.chunks().size());
        int[] first = c.chunks().getFirst().tokens();
        assertEquals(tokenizer.tokenId(",</w>"), first[71]);
        assertEquals(tokenizer.eosId(), first[72]);
    }

    @Test
    void badWeightIsAOneLineError() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PromptParser.parse("(x:1.2.3)"));
        assertTrue(e.getMessage().contains("'1.2.3' is not a number"), e.getMessage());
    }
}
