package dev.tornadodiffusion.nn.unet;

import dev.tornadodiffusion.nn.Fixtures;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Compare;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

class UNet2DConditionModelTest {
    @ParameterizedTest
    @ValueSource(strings = {"unet-sd", "unet-sd2", "unet-sdxl"})
    void matchesDiffusers(String name) throws Exception {
        List<Compare.Check> checks = UNetParity.run(Fixtures.path(name), Backends.cpu());
        checks.forEach(c -> System.out.println(name + " " + c));
        assertTrue(checks.stream().anyMatch(c -> c.name().equals("sample")));
        assertTrue(checks.stream().anyMatch(c -> c.name().equals("sample_timesteps_batch")));
        for (Compare.Check c : checks) assertTrue(c.pass(), name + ": " + c);
    }
}
