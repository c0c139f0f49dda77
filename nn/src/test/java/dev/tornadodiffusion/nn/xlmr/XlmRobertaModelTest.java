package dev.tornadodiffusion.nn.xlmr;

import dev.tornadodiffusion.nn.Fixtures;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Compare.Check;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class XlmRobertaModelTest {
    static final Path FIXTURE = Fixtures.path("xlmr-text");

    @Test
    void matchesTransformersOnPaddedMaskedAndUnpaddedPrompts() throws Exception {
        List<Check> checks = XlmrTextParity.run(FIXTURE, Backends.cpu());
        assertEquals(7, checks.size());   // 3 hidden states, last, cls, position ids, unpadded cls
        for (Check c : checks) {
            System.out.println(c);
            assertTrue(c.pass(), c.toString());
        }
    }
}
