package dev.tornadodiffusion.nn.tld;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tornadodiffusion.nn.Fixtures;
import dev.tornadodiffusion.weights.JsonConfig;
import dev.tornadodiffusion.nn.MapStateDict;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Safetensors;
import dev.tornadodiffusion.weights.WeightFormatException;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class DenoiserTest {
    static final Backend BE = Backends.cpu();
    static final Path DIR = Fixtures.path("tld-denoiser");

    @Test
    void badInputsConfigsAndWeightsGiveOneLineErrors() throws Exception {
        try (Safetensors w = Safetensors.open(DIR.resolve("model.safetensors"))) {
            Denoiser d = new Denoiser(config(), new Params(w, BE));
            assertThrows(IllegalArgumentException.class, () -> d.forward(Tensor.zeros(1, 4, 16, 16), Tensor.zeros(1, 1), Tensor.zeros(1, 32)));
            assertThrows(IllegalArgumentException.class, () -> d.forward(Tensor.zeros(1, 4, 8, 8), Tensor.zeros(1), Tensor.zeros(1, 32)));
            assertThrows(IllegalArgumentException.class, () -> d.forward(Tensor.zeros(1, 4, 8, 8), Tensor.zeros(1, 1), Tensor.zeros(1, 768)));

            MapStateDict noBuffer = new MapStateDict();
            for (String k : w.keys()) if (!k.endsWith("precomputed_pos_enc")) noBuffer.put(k, w.get(k));
            var e = assertThrows(WeightFormatException.class, () -> new Denoiser(config(), new Params(noBuffer, BE)));
            assertTrue(e.getMessage().contains("denoiser_trans_block.precomputed_pos_enc"), e.getMessage());

            DenoiserConfig bigger = new DenoiserConfig(16, 32, 2, 128, 2, 32, 2, 4);   // pos_embed needs 64 rows, the file has 16
            e = assertThrows(WeightFormatException.class, () -> new Denoiser(bigger, new Params(w, BE)));
            assertTrue(e.getMessage().contains("pos_embed.weight"), e.getMessage());
        }
        var small = new JsonConfig(new ObjectMapper().readTree("{\"embed_dim\": 32}"), "config.json");
        var e = assertThrows(WeightFormatException.class, () -> DenoiserConfig.from(small));
        assertTrue(e.getMessage().contains("embed_dim"), e.getMessage());
    }

    static DenoiserConfig config() throws Exception {
        return DenoiserConfig.from(JsonConfig.read(DIR.resolve("config.json")));
    }
}
