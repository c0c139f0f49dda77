package dev.tornadodiffusion.parity;

import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Compare;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pipeline reference cases: every run of meta.json regenerated and compared step by step. */
class PipelineParityTest {

    @ParameterizedTest
    @ValueSource(strings = {"pipeline-sd", "pipeline-sdxl"})
    void matchesDiffusers(String name) throws IOException {
        List<Compare.Check> checks = PipelineParity.run(Fixtures.path(name), Backends.cpu());
        assertTrue(checks.size() >= 10, "too few checks: " + checks);
        for (Compare.Check c : checks) assertTrue(c.pass(), name + ": " + c);
    }

    @ParameterizedTest
    @ValueSource(strings = {"pipeline-sd-inpaint", "pipeline-sdxl-inpaint"})
    void inpaintingMatchesDiffusers(String name) throws Exception {
        List<Compare.Check> checks = InpaintParity.run(Fixtures.path(name), Backends.cpu());
        assertTrue(checks.size() >= 30, "too few checks: " + checks);
        StringBuilder failures = new StringBuilder();
        for (Compare.Check c : checks) if (!c.pass()) failures.append(c).append('\n');
        assertTrue(failures.isEmpty(), name + ":\n" + failures);
    }
}
