package dev.tornadodiffusion.cli.bench;

import dev.tornadodiffusion.weights.JsonConfig;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.nn.clip.ClipTextConfig;
import dev.tornadodiffusion.nn.clip.ClipTextModel;
import dev.tornadodiffusion.nn.tld.Denoiser;
import dev.tornadodiffusion.nn.tld.DenoiserConfig;
import dev.tornadodiffusion.nn.unet.UNet2DConditionModel;
import dev.tornadodiffusion.nn.vae.AutoencoderKL;
import dev.tornadodiffusion.nn.vae.AutoencoderKLConfig;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Safetensors;
import dev.tornadodiffusion.weights.StateDict;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RandomWeightsTest {
    static final Path FIXTURES = Path.of(System.getProperty("fixtures.dir", "../../shared/fixtures"));
    private final Backend be = Backends.cpu();

    /** Key -> shape of a fixture's real checkpoint, and of the same config built over random weights. */
    private static Map<String, String> shapes(StateDict w) {
        Map<String, String> m = new TreeMap<>();
        for (String k : w.keys()) m.put(k, Arrays.toString(w.get(k).shape()));
        return m;
    }

    private static Map<String, String> checkpoint(String fixture, String file) throws IOException {
        try (StateDict w = Safetensors.open(FIXTURES.resolve(fixture).resolve(file))) {
            return shapes(w);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"unet-sd", "unet-sd2", "unet-sdxl"})
    void randomUNetHasTheCheckpointsKeysAndShapes(String fixture) throws IOException {
        RandomWeights w = new RandomWeights(DType.F32, 0);
        new UNet2DConditionModel(UNet2DConditionModel.readConfig(FIXTURES.resolve(fixture).resolve("config.json")), new Params(w, be, w));
        assertEquals(checkpoint(fixture, "diffusion_pytorch_model.safetensors"), shapes(w));
    }

    @Test
    void randomVaeHasTheCheckpointsKeysAndShapes() throws IOException {
        RandomWeights w = new RandomWeights(DType.F16, 0);
        new AutoencoderKL(AutoencoderKLConfig.from(JsonConfig.read(FIXTURES.resolve("vae-sd/config.json"))), new Params(w, be, w));
        assertEquals(checkpoint("vae-sd", "diffusion_pytorch_model.safetensors"), shapes(w));
        assertTrue(w.keys().stream().allMatch(k -> w.get(k).dtype() == DType.F16));
    }

    @Test
    void randomClipWithProjectionHasTheCheckpointsKeysAndShapes() throws IOException {
        RandomWeights w = new RandomWeights(DType.F32, 0);
        new ClipTextModel(ClipTextConfig.from(JsonConfig.read(FIXTURES.resolve("clip-text-gelu/config.json"))), new Params(w, be, w), true);
        Map<String, String> expected = checkpoint("clip-text-gelu", "model.safetensors");
        expected.remove("text_model.embeddings.position_ids");   // a buffer some checkpoints carry, ignored by the model
        assertEquals(expected, shapes(w));
    }

    @Test
    void randomTldWithItsPositionBufferHasTheCheckpointsKeysAndShapes() throws IOException {
        DenoiserConfig c = DenoiserConfig.from(JsonConfig.read(FIXTURES.resolve("tld-denoiser/config.json")));
        int seq = c.grid() * c.grid();
        RandomWeights w = new RandomWeights(DType.F32, 0).put("denoiser_trans_block.precomputed_pos_enc", Tensor.ofLongs(new long[seq], seq));
        new Denoiser(c, new Params(w, be, w));
        assertEquals(checkpoint("tld-denoiser", "model.safetensors"), shapes(w));
    }

    @Test
    void valuesAreDeterministicPerKeyAndScaledByFanIn() {
        RandomWeights a = new RandomWeights(DType.F32, 7), b = new RandomWeights(DType.F32, 7);
        float[] x = a.make("conv.weight", new int[]{64, 16, 3, 3}).toFloatArray();
        assertArrayEquals(x, b.make("conv.weight", new int[]{64, 16, 3, 3}).toFloatArray());
        assertFalse(Arrays.equals(x, b.make("other.weight", new int[]{64, 16, 3, 3}).toFloatArray()));
        float bound = (float) (1 / Math.sqrt(16 * 9)), max = 0;
        double sum = 0;
        for (float v : x) { max = Math.max(max, Math.abs(v)); sum += v; }
        assertTrue(max <= bound && max > 0.9f * bound, "max " + max + " bound " + bound);
        assertEquals(0, sum / x.length, 0.05 * bound);
        float[] norm = a.make("norm.weight", new int[]{1000}).toFloatArray(), bias = a.make("norm.bias", new int[]{1000}).toFloatArray();
        for (int i = 0; i < 1000; i++) {
            assertEquals(1, norm[i], 0.1f);
            assertEquals(0, bias[i], 0.1f);
        }
        assertNotEquals(norm[0], norm[1]);
    }

    @Test
    void halfWeightsHoldTheSameValuesRounded() {
        float[] f32 = new RandomWeights(DType.F32, 1).make("w", new int[]{300, 200}).toFloatArray();
        Tensor f16 = new RandomWeights(DType.F16, 1).make("w", new int[]{300, 200});
        assertEquals(DType.F16, f16.dtype());
        float[] wide = f16.toFloatArray();
        for (int i = 0; i < f32.length; i++) assertEquals(f32[i], wide[i], 1e-3f * 0.1f);
    }
}
