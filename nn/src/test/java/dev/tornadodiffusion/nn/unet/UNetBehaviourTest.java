package dev.tornadodiffusion.nn.unet;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tornadodiffusion.nn.Fixtures;
import dev.tornadodiffusion.nn.MapStateDict;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Safetensors;
import dev.tornadodiffusion.weights.StateDict;
import dev.tornadodiffusion.weights.WeightFormatException;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Behaviour of the SD1-style fixture UNet beyond the recorded calls: odd sizes, timestep forms, strict loading, LCM. */
class UNetBehaviourTest {
    static final Path SD = Fixtures.path("unet-sd");

    static Tensor random(long seed, int... shape) {
        Random r = new Random(seed);
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        return Tensor.of(v, shape);
    }

    static MapStateDict copyOfFixtureWeights() throws IOException {
        MapStateDict copy = new MapStateDict();
        try (StateDict w = Safetensors.open(SD.resolve("diffusion_pytorch_model.safetensors"))) {
            for (String k : w.keys()) copy.put(k, w.get(k).contiguousF32());
        }
        return copy;
    }

    @Test
    void latentSizesNotDivisibleByTheUpsamplingFactorResizeToTheSkips() throws IOException {
        try (UNet2DConditionModel unet = UNet2DConditionModel.load(SD, Backends.cpu(), null)) {
            Map<String, int[]> shapes = new HashMap<>();
            Tensor y = unet.forward(random(1, 1, 4, 7, 9), Tensor.scalar(500), random(2, 1, 77, 32), null, null, null,
                    (name, t) -> shapes.put(name, t.shape()));
            assertArrayEquals(new int[] {1, 4, 7, 9}, y.shape());
            assertArrayEquals(new int[] {1, 16, 4, 5}, shapes.get("down_blocks.0"));
            assertArrayEquals(new int[] {1, 32, 4, 5}, shapes.get("up_blocks.0"));
            assertArrayEquals(new int[] {1, 32, 7, 9}, shapes.get("up_blocks.1"));
        }
    }

    @Test
    void oneTimestepIsBroadcastToTheBatch() throws IOException {
        try (UNet2DConditionModel unet = UNet2DConditionModel.load(SD, Backends.cpu(), null)) {
            Tensor x = random(3, 2, 4, 8, 8), ctx = random(4, 2, 77, 32);
            // Equal up to the last ulp: the vector kernels' exp may be interpreted or JIT-intrinsified between calls.
            float[] scalarInt = unet.forward(x, Tensor.ofLongs(new long[] {321}), ctx).toFloatArray();
            assertArrayEquals(scalarInt, unet.forward(x, Tensor.of(new float[] {321}, 1), ctx).toFloatArray(), 1e-5f);
            assertArrayEquals(scalarInt, unet.forward(x, Tensor.of(new float[] {321, 321}, 2), ctx).toFloatArray(), 1e-5f);
            assertFalse(java.util.Arrays.equals(scalarInt, unet.forward(x, Tensor.of(new float[] {321, 320}, 2), ctx).toFloatArray()));
            assertThrows(IllegalArgumentException.class, () -> unet.forward(x, Tensor.of(new float[3], 3), ctx));
            assertThrows(IllegalArgumentException.class, () -> unet.forward(x, Tensor.scalar(1), random(5, 1, 77, 32)));
        }
    }

    @Test
    void loadingIsStrict() throws IOException {
        UNet2DConditionConfig config = UNet2DConditionModel.readConfig(SD.resolve("config.json"));
        MapStateDict missing = copyOfFixtureWeights();
        missing.tensors.remove("mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight");
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> UNet2DConditionModel.load(config, missing, Backends.cpu()));
        assertTrue(e.getMessage().contains("'mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight'"), e.getMessage());

        MapStateDict extra = copyOfFixtureWeights().put("add_embedding.linear_1.weight", Tensor.zeros(64, 16));
        e = assertThrows(WeightFormatException.class, () -> UNet2DConditionModel.load(config, extra, Backends.cpu()));
        assertTrue(e.getMessage().contains("unexpected key 'add_embedding.linear_1.weight'"), e.getMessage());

        MapStateDict misShaped = copyOfFixtureWeights().put("conv_in.weight", Tensor.zeros(16, 4, 1, 1));
        e = assertThrows(WeightFormatException.class, () -> UNet2DConditionModel.load(config, misShaped, Backends.cpu()));
        assertTrue(e.getMessage().contains("'conv_in.weight' has shape [16, 4, 1, 1]"), e.getMessage());
    }

    @Test
    void timestepConditionIsProjectedIntoTheTimeEmbedding() throws IOException {
        ObjectNode json = (ObjectNode) new ObjectMapper().readTree(SD.resolve("config.json").toFile());
        json.put("time_cond_proj_dim", 8);
        UNet2DConditionConfig config = UNet2DConditionConfig.fromJson(json, "lcm config");
        MapStateDict weights = copyOfFixtureWeights().put("time_embedding.cond_proj.weight", random(6, 16, 8));
        try (UNet2DConditionModel lcm = UNet2DConditionModel.load(config, weights, Backends.cpu())) {
            Tensor x = random(7, 2, 4, 8, 8), ctx = random(8, 2, 77, 32), t = Tensor.scalar(250);
            float[] plain = lcm.forward(x, t, ctx).toFloatArray();
            assertArrayEquals(plain, lcm.forward(x, t, ctx, null, null, Tensor.zeros(2, 8), null).toFloatArray());
            assertFalse(java.util.Arrays.equals(plain, lcm.forward(x, t, ctx, null, null, random(9, 2, 8), null).toFloatArray()));
        }
        assertEquals(8, config.time_cond_proj_dim());
    }

    @Test
    void centerInputSampleMapsZeroOneInputsToMinusOneOne() throws IOException {
        ObjectNode json = (ObjectNode) new ObjectMapper().readTree(SD.resolve("config.json").toFile());
        json.put("center_input_sample", true);
        UNet2DConditionConfig centered = UNet2DConditionConfig.fromJson(json, "centered config");
        Tensor x = random(10, 1, 4, 8, 8), ctx = random(11, 1, 77, 32), t = Tensor.scalar(100);
        float[] half = x.toFloatArray();
        for (int i = 0; i < half.length; i++) half[i] = (half[i] + 1) / 2;
        try (UNet2DConditionModel plain = UNet2DConditionModel.load(SD, Backends.cpu(), null);
             UNet2DConditionModel unet = UNet2DConditionModel.load(centered, copyOfFixtureWeights(), Backends.cpu())) {
            float[] expected = plain.forward(x, t, ctx).toFloatArray(), actual = unet.forward(Tensor.of(half, 1, 4, 8, 8), t, ctx).toFloatArray();
            for (int i = 0; i < expected.length; i++) assertEquals(expected[i], actual[i], 1e-4, "at " + i);
        }
    }
}
