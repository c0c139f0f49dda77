package dev.tornadodiffusion.nn.unet;

import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Compare;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

class UNet2DConditionModelTest {
    static Path fixture(String name) {
        return Path.of(System.getProperty("fixtures.dir"), name);
    }

    @ParameterizedTest
    @ValueSource(strings = {"unet-sd", "unet-sd2", "unet-sdxl"})
    void matchesDiffusers(String name) throws Exception {
        List<Compare.Check> checks = UNetParity.run(fixture(name), Backends.cpu());
        checks.forEach(c -> System.out.println(name + " " + c));
        assertTrue(checks.stream().anyMatch(c -> c.name().equals("sample")));
        assertTrue(checks.stream().anyMatch(c -> c.name().equals("sample_timesteps_batch")));
        for (Compare.Check c : checks) assertTrue(c.pass(), name + ": " + c);
    }
}
