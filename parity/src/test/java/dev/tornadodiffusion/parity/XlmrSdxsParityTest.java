package dev.tornadodiffusion.parity;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Compare.Check;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The sdxs reference cases: tokenizer, text tower, and the card's sampling loop. */
class XlmrSdxsParityTest {
    static final Backend BE = Backends.cpu();

    @Test
    void tokenizerEveryFormOfEveryPromptIsExact() throws Exception {
        List<Check> checks = XlmrTokenizerParity.run(Fixtures.path("xlmr-tokenizer"), BE);
        assertEquals(8, checks.size());   // normalized, pre_tokens, pieces, ids, input_ids, 64 ids + mask, 512 ids
        for (Check c : checks) assertTrue(c.pass(), c.toString());
    }

    @Test
    void textTowerMatchesTransformersPaddedMaskedAndUnpadded() throws Exception {
        List<Check> checks = XlmrTextParity.run(Fixtures.path("xlmr-text"), BE);
        assertEquals(7, checks.size());   // 3 hidden states, last, cls, position ids, unpadded cls
        for (Check c : checks) assertTrue(c.pass(), c.toString());
    }

    @Test
    void sdxsCardLoopMatchesEveryStepOfTheThreeRuns() throws Exception {
        List<Check> checks = SdxsParity.run(Fixtures.path("pipeline-sdxs"), BE);
        assertEquals(3 * 12, checks.size());
        for (Check c : checks) assertTrue(c.pass(), c.toString());
    }
}
