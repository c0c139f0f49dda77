package dev.tornadodiffusion.nn.vae;

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

class AutoencoderKLTest {
    static final Backend BE = Backends.cpu();


    static JsonConfig json(String text) throws Exception {
        return new JsonConfig(new ObjectMapper().readTree(text), "config.json");
    }

    @Test
    void posteriorClampsLogvarAndSamples() {
        float[] v = {1f, -2f, 50f, -40f};   // mean 1, -2; logvar 50 -> 20, -40 -> -30
        DiagonalGaussianDistribution d = new DiagonalGaussianDistribution(Tensor.of(v, 1, 4, 1, 1), BE);
        assertArrayEquals(new float[]{1f, -2f}, d.mean.toFloatArray());
        assertArrayEquals(new float[]{20f, -30f}, d.logvar.toFloatArray());
        assertArrayEquals(new float[]{(float) Math.exp(10), (float) Math.exp(-15)}, d.std.toFloatArray(), 1e-6f * (float) Math.exp(10));
        Tensor s = d.sample(Tensor.of(new float[]{0.5f, 2f}, 1, 2, 1, 1));
        assertEquals(1f + 0.5f * (float) Math.exp(10), s.toFloatArray()[0], 1f);
        assertSame(d.mean, d.mode());
        assertThrows(IllegalArgumentException.class, () -> d.sample(Tensor.zeros(1, 2, 2, 1)));
    }

    @Test
    void configDefaultsAndErrors() throws Exception {
        AutoencoderKLConfig c = AutoencoderKLConfig.from(json("""
                {"block_out_channels": [32, 64, 64], "sample_size": [48, 64], "norm_num_groups": 8,
                 "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
                 "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"], "shift_factor": null}"""));
        assertEquals(48, c.sample_size());
        assertEquals(4, c.downscale());
        assertEquals(0.18215, c.scaling_factor());
        assertNull(c.shift_factor());
        assertTrue(c.use_quant_conv() && c.use_post_quant_conv() && c.mid_block_add_attention());

        var e = assertThrows(WeightFormatException.class, () -> AutoencoderKLConfig.from(json("{\"down_block_types\": [\"AttnDownEncoderBlock2D\"]}")));
        assertTrue(e.getMessage().contains("down_block_types"), e.getMessage());
        assertThrows(WeightFormatException.class, () -> AutoencoderKLConfig.from(json("{\"act_fn\": \"gelu\"}")));
        assertThrows(WeightFormatException.class, () -> AutoencoderKLConfig.from(json("{\"block_out_channels\": [64, 64]}")));   // 2 levels, 1 block type
        assertThrows(WeightFormatException.class, () -> AutoencoderKLConfig.from(json("{\"block_out_channels\": [30], \"norm_num_groups\": 8}")));
        assertThrows(WeightFormatException.class, () -> AutoencoderKLConfig.from(json("{\"scaling_factor\": \"big\"}")));
    }

    /** The config decides which optional modules exist; the weights must agree in both directions. */
    @Test
    void quantConvsFollowTheConfig() throws Exception {
        Path dir = Fixtures.path("vae-sd");
        AutoencoderKLConfig c = AutoencoderKLConfig.from(JsonConfig.read(dir.resolve("config.json")));
        try (Safetensors w = Safetensors.open(dir.resolve("diffusion_pytorch_model.safetensors"))) {
            AutoencoderKLConfig noQuant = new AutoencoderKLConfig(c.in_channels(), c.out_channels(), c.block_out_channels(), c.layers_per_block(),
                    c.latent_channels(), c.norm_num_groups(), c.sample_size(), c.scaling_factor(), null, false, false, true);
            Params p = new Params(w, BE);
            new AutoencoderKL(noQuant, p);
            var e = assertThrows(WeightFormatException.class, p::checkAllUsed);
            assertTrue(e.getMessage().contains("quant_conv"), e.getMessage());

            MapStateDict without = new MapStateDict();
            for (String k : w.keys()) if (!k.startsWith("post_quant_conv")) without.put(k, w.get(k));
            e = assertThrows(WeightFormatException.class, () -> new AutoencoderKL(c, new Params(without, BE)));
            assertTrue(e.getMessage().contains("post_quant_conv.weight"), e.getMessage());

            AutoencoderKLConfig noAttention = new AutoencoderKLConfig(c.in_channels(), c.out_channels(), c.block_out_channels(), c.layers_per_block(),
                    c.latent_channels(), c.norm_num_groups(), c.sample_size(), c.scaling_factor(), null, true, true, false);
            Params p2 = new Params(w, BE);
            new AutoencoderKL(noAttention, p2);
            e = assertThrows(WeightFormatException.class, p2::checkAllUsed);
            assertTrue(e.getMessage().contains("attentions.0"), e.getMessage());
        }
    }

    /** Files saved before diffusers 0.18 name the mid-block attention query / key / value / proj_attn. */
    @Test
    void deprecatedAttentionNamesLoadTheSameModel() throws Exception {
        Path dir = Fixtures.path("vae-sd");
        AutoencoderKLConfig c = AutoencoderKLConfig.from(JsonConfig.read(dir.resolve("config.json")));
        try (Safetensors w = Safetensors.open(dir.resolve("diffusion_pytorch_model.safetensors"));
             Safetensors in = Safetensors.open(dir.resolve("inputs.safetensors"))) {
            MapStateDict old = new MapStateDict();
            for (String k : w.keys())
                old.put(k.replace("attentions.0.to_q.", "attentions.0.query.").replace("attentions.0.to_k.", "attentions.0.key.")
                        .replace("attentions.0.to_v.", "attentions.0.value.").replace("attentions.0.to_out.0.", "attentions.0.proj_attn."), w.get(k));
            assertTrue(old.keys().contains("decoder.mid_block.attentions.0.proj_attn.weight"));
            Params p = new Params(old, BE);
            AutoencoderKL renamed = new AutoencoderKL(c, p);
            p.checkAllUsed();
            Tensor z = in.get("latent");
            assertArrayEquals(new AutoencoderKL(c, new Params(w, BE)).decode(z).toFloatArray(), renamed.decode(z).toFloatArray(), 0f);
        }
    }
}
