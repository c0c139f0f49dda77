package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Compare.Check;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

class SdxsPipelineTest {

    @Test
    void cardLoopMatchesTheReferenceRuns() throws Exception {
        List<Check> checks = SdxsParity.run(TinyFolders.fixture("pipeline-sdxs"), Backends.cpu());
        for (Check c : checks) System.out.println(c);
        for (Check c : checks) assertTrue(c.pass(), c.toString());
    }
}
