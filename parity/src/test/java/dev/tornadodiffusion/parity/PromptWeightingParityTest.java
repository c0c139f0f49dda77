package dev.tornadodiffusion.parity;

import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Compare.Check;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

class PromptWeightingParityTest {
    @Test
    void matchesAutomatic1111() throws Exception {
        List<Check> checks = PromptWeightingParity.run(Fixtures.path("prompt-weighting"), Backends.cpu());
        assertTrue(checks.size() > 80, "too few checks: " + checks.size());
        StringBuilder failures = new StringBuilder();
        for (Check c : checks) if (!c.pass()) failures.append(c).append('\n');
        assertTrue(failures.isEmpty(), failures.toString());
    }
}
