package dev.tornadodiffusion.diffusion;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class TorchGeneratorTest {

    @Test
    void reproducesEveryTorchRngFixtureTensor() throws IOException {
        try (FixtureFile outputs = FixtureFile.open(FixtureFile.fixtures().resolve("torch-rng/outputs.safetensors"))) {
            List<ParityCheck> checks = TorchRngParity.run(outputs);
            assertEquals(outputs.keys().size(), checks.size());
            for (ParityCheck c : checks) assertTrue(c.pass(), c.toString());
        }
    }
}
