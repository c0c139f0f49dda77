package dev.tornadodiffusion.parity;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Compare.Check;
import dev.tornadodiffusion.weights.Json;
import dev.tornadodiffusion.weights.Safetensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The model, generator and file-format reference cases, each through its runner, with the number of checks it must make. */
class ModelParityTest {
    static final Backend BE = Backends.cpu();

    @ParameterizedTest
    @ValueSource(strings = {"unet-sd", "unet-sd2", "unet-sdxl"})
    void unetMatchesDiffusers(String name) throws Exception {
        List<Check> checks = UNetParity.run(Fixtures.path(name), BE);
        assertTrue(checks.stream().anyMatch(c -> c.name().equals("sample")));
        assertTrue(checks.stream().anyMatch(c -> c.name().equals("sample_timesteps_batch")));
        for (Check c : checks) assertTrue(c.pass(), name + ": " + c);
    }

    @ParameterizedTest
    @ValueSource(strings = {"vae-sd", "vae-16ch"})
    void vaeEveryOutputMatchesTheReference(String caseName) throws Exception {
        List<Check> checks = VaeParity.run(Fixtures.path(caseName), BE);
        assertEquals(16, checks.size());   // 17 outputs, one of them the given sample noise
        for (Check c : checks) assertTrue(c.pass(), c.toString());
    }

    @Test
    void vaeTinyEveryOutputMatchesTheReference() throws Exception {
        List<Check> checks = VaeTinyParity.run(Fixtures.path("vae-tiny"), BE);
        assertEquals(18, checks.size());
        for (Check c : checks) assertTrue(c.pass(), c.toString());
    }

    @ParameterizedTest
    @ValueSource(strings = {"clip-text-quickgelu", "clip-text-gelu"})
    void clipTextEveryOutputMatchesTheReference(String caseName) throws Exception {
        List<Check> checks = ClipTextParity.run(Fixtures.path(caseName), BE);
        assertEquals(2 * 7, checks.size());   // 4 hidden states, last, pooled, projected; two paddings
        for (Check c : checks) assertTrue(c.pass(), c.toString());
    }

    @Test
    void tldForwardAndBothSamplersMatchTheReference() throws Exception {
        List<Check> checks = TldParity.run(Fixtures.path("tld-denoiser"), BE);
        assertEquals(1 + 2 * 4, checks.size());
        for (Check c : checks) assertTrue(c.pass(), c.toString());
    }

    @Test
    void generatorReproducesEveryTorchRngFixtureTensor() throws IOException {
        Path dir = Fixtures.path("torch-rng");
        List<Check> checks = TorchRngParity.run(dir, null);
        try (Safetensors outputs = Safetensors.open(dir.resolve("outputs.safetensors"))) {
            assertEquals(outputs.keys().size(), checks.size());
        }
        for (Check c : checks) assertTrue(c.pass(), c.toString());
    }

    @Test
    void refusesEveryHostileFileAndAcceptsTheBenignOnesAsMetaJsonSays() throws IOException {
        List<Check> checks = PickleHostileParity.run(Fixtures.path("pickle-hostile"), null);
        JsonNode meta = Json.read(Fixtures.path("pickle-hostile/meta.json"));
        assertEquals(meta.get("refuse").size(), checks.stream().filter(c -> c.name().endsWith(" refused")).count());
        assertEquals(15 + 15 + 1, checks.stream().filter(c -> c.name().startsWith("accept/")).count(), "every tensor of the three accept files");
        for (Check c : checks) assertTrue(c.pass(), c.toString());
    }
}
