package dev.tornadodiffusion.parity;

import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Compare.Check;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The file-format cases end to end: weights from single files, torch files and LoRAs reproduce the reference outputs. */
class FormatParityTest {
    static final Path FIXTURES = Fixtures.path("");

    /** Every check passes and {@code expected} checks ran (outputs x weight files): nothing was silently skipped. */
    static void assertAllPass(List<Check> checks, int expected) {
        for (Check c : checks) assertTrue(c.pass(), c.toString());
        assertEquals(expected, checks.size(), checks.toString());
    }

    @Test
    void sdCheckpointInBothContainers() throws Exception {
        // 2 UNet + 6 VAE outputs, from model.safetensors and model.ckpt
        assertAllPass(CheckpointParity.run(FIXTURES.resolve("ckpt-sd"), Backends.cpu()), 16);
    }

    @Test
    void sdxlCheckpoint() throws Exception {
        // 2 UNet + 8 text_encoder_2 outputs
        assertAllPass(CheckpointParity.run(FIXTURES.resolve("ckpt-sdxl"), Backends.cpu()), 10);
    }

    @Test
    void tldStateDictsZipAndLegacy() throws Exception {
        assertAllPass(TorchFileParity.run(FIXTURES.resolve("pth-tld"), Backends.cpu()), 18);
    }

    @Test
    void sdLoraKohyaAndPeft() throws Exception {
        // base: 2; per file and scale: 2 UNet + 2 text encoder outputs
        assertAllPass(LoraParity.run(FIXTURES.resolve("lora-sd"), Backends.cpu()), 2 + 2 * 2 * 4);
    }

    @Test
    void sdxlLoraKohyaAndPeft() throws Exception {
        // base: 2; per file and scale: 2 UNet + 3 text_encoder + 4 text_encoder_2 outputs
        assertAllPass(LoraParity.run(FIXTURES.resolve("lora-sdxl"), Backends.cpu()), 2 + 2 * 2 * 9);
    }
}
