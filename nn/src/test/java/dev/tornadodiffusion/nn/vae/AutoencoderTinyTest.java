package dev.tornadodiffusion.nn.vae;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tornadodiffusion.nn.Fixtures;
import dev.tornadodiffusion.nn.JsonConfig;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Compare.Check;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class AutoencoderTinyTest {

    @Test
    void everyOutputMatchesTheReference() throws Exception {
        List<Check> checks = VaeTinyParity.run(Fixtures.path("vae-tiny"), Backends.cpu());
        assertEquals(18, checks.size());
        for (Check c : checks) assertTrue(c.pass(), c.toString());
    }

    @Test
    void unequalLevelWidthsAreRefused() throws Exception {
        JsonConfig c = new JsonConfig(new ObjectMapper().readTree("{\"encoder_block_out_channels\": [32, 64, 64, 64]}"), "taesd/config.json");
        Exception e = assertThrows(RuntimeException.class, () -> AutoencoderTinyConfig.from(c));
        assertTrue(e.getMessage().contains("encoder_block_out_channels") && e.getMessage().contains("same width"), e.getMessage());
    }
}
