package dev.tornadodiffusion.nn.vae;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tornadodiffusion.weights.JsonConfig;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** The config checks; the numerics are the parity module's vae-tiny case. */
class AutoencoderTinyTest {

    @Test
    void unequalLevelWidthsAreRefused() throws Exception {
        JsonConfig c = new JsonConfig(new ObjectMapper().readTree("{\"encoder_block_out_channels\": [32, 64, 64, 64]}"), "taesd/config.json");
        Exception e = assertThrows(RuntimeException.class, () -> AutoencoderTinyConfig.from(c));
        assertTrue(e.getMessage().contains("encoder_block_out_channels") && e.getMessage().contains("same width"), e.getMessage());
    }

    @Test
    void releasedTaesdDefaultsAreTheConfigDefaults() throws Exception {
        AutoencoderTinyConfig c = AutoencoderTinyConfig.from(new JsonConfig(new ObjectMapper().readTree("{}"), "config.json"));
        assertArrayEquals(new int[]{1, 3, 3, 3}, c.num_encoder_blocks());
        assertArrayEquals(new int[]{3, 3, 3, 1}, c.num_decoder_blocks());
        assertEquals(8, c.downscale());
        assertEquals(1.0, c.scaling_factor());
    }
}
