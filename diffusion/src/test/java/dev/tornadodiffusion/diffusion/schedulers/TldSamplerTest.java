package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.diffusion.pipelines.Denoising;
import dev.tornadodiffusion.diffusion.pipelines.Progress;
import dev.tornadodiffusion.diffusion.Fixtures;
import dev.tornadodiffusion.nn.tld.Denoiser;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Safetensors;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class TldSamplerTest {
    static final Backend BE = Backends.cpu();
    static final Path DIR = Fixtures.path("tld-denoiser");

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
        try (Denoiser model = Denoiser.load(DIR, BE); Safetensors in = Safetensors.open(DIR.resolve("inputs.safetensors"))) {
            TldSampler s = new TldSampler(model, BE);
            double[] levels = TldSampler.noiseLevels(2, 1.0);
            Tensor plain = Denoising.run(s.steps(in.get("sampler/labels"), levels, new TldSampler.Settings(3, false, 0, 0), null), in.get("sampler/initial_noise"), Progress.NONE);
            Tensor shifted = Denoising.run(s.steps(in.get("sampler/labels"), levels, new TldSampler.Settings(3, false, 0.1f, 0.2f), null), in.get("sampler/initial_noise"), Progress.NONE);
            Tensor diff = BE.sub(shifted, plain);
            for (int c = 0; c < 4; c++) {
                float expected = c == 3 ? 0.1f : c == 0 ? 0.2f : 0f;
                float[] d = diff.select(1, c).toFloatArray();
                for (float v : d) assertEquals(expected, v, 1e-6f, "channel " + c);
            }
        }
    }
}
