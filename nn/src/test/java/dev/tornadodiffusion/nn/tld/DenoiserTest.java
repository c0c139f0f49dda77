package dev.tornadodiffusion.nn.tld;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tornadodiffusion.nn.Fixtures;
import dev.tornadodiffusion.nn.JsonConfig;
import dev.tornadodiffusion.nn.MapStateDict;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Compare.Check;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Safetensors;
import dev.tornadodiffusion.weights.WeightFormatException;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class DenoiserTest {
    static final Backend BE = Backends.cpu();
    static final Path DIR = Fixtures.path("tld-denoiser");

    @Test
    void forwardAndBothSamplersMatchTheReference() throws Exception {
        List<Check> checks = TldParity.run(DIR, BE);
        assertEquals(1 + 2 * 4, checks.size());
        for (Check c : checks) assertTrue(c.pass(), c.toString());
    }

    @Test
    void noiseLevelsAreFloat32ValuesWithTheFirstAt099() {
        assertArrayEquals(new double[]{0.99, 0.8333333134651184, 0.6666666269302368, 0.5, 0.3333333134651184, 0.1666666865348816},
                TldSampler.noiseLevels(6, 1.0), 0.0);
        double[] squared = TldSampler.noiseLevels(4, 2.0);
        assertArrayEquals(new double[]{0.99, 1 - 0.0625f, 0.75, 1 - 0.5625f}, squared, 0.0);
        assertEquals(10, TldSampler.noiseLevels(10, 1.0).length);
        assertThrows(IllegalArgumentException.class, () -> TldSampler.noiseLevels(1, 1.0));
    }

    @Test
    void sharpAndBrightShiftChannelsThreeAndZero() throws Exception {
        try (Safetensors w = Safetensors.open(DIR.resolve("model.safetensors")); Safetensors in = Safetensors.open(DIR.resolve("inputs.safetensors"))) {
            TldSampler s = new TldSampler(new Denoiser(config(), new Params(w, BE)), BE);
            double[] levels = TldSampler.noiseLevels(2, 1.0);
            Tensor plain = s.generate(in.get("sampler/initial_noise"), in.get("sampler/labels"), levels, new TldSampler.Settings(3, false, 0, 0), null);
            Tensor shifted = s.generate(in.get("sampler/initial_noise"), in.get("sampler/labels"), levels, new TldSampler.Settings(3, false, 0.1f, 0.2f), null);
            Tensor diff = BE.sub(shifted, plain);
            for (int c = 0; c < 4; c++) {
                float expected = c == 3 ? 0.1f : c == 0 ? 0.2f : 0f;
                float[] d = diff.select(1, c).toFloatArray();
                for (float v : d) assertEquals(expected, v, 1e-6f, "channel " + c);
            }
        }
    }

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
