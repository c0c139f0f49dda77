package dev.tornadodiffusion.weights.lora;

import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Safetensors;
import dev.tornadodiffusion.weights.StateDict;
import dev.tornadodiffusion.weights.WeightFormatException;
import dev.tornadodiffusion.weights.checkpoint.SingleFileCheckpoint;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/** LoRA reading and merging against the lora-sd / lora-sdxl fixtures (merged_weights_scale_1.0 = diffusers' _fuse_lora). */
class LoraTest {
    static final Path FIXTURES = Path.of(System.getProperty("fixtures.dir", "../shared/fixtures"));

    /** The base weights of each model a LoRA case patches. */
    static Map<String, Path> bases(String lcase) {
        Map<String, Path> m = new LinkedHashMap<>();
        m.put("unet", FIXTURES.resolve(lcase.equals("lora-sd") ? "unet-sd" : "unet-sdxl").resolve("diffusion_pytorch_model.safetensors"));
        m.put("text_encoder", FIXTURES.resolve("clip-text-quickgelu/model.safetensors"));
        if (lcase.equals("lora-sdxl")) m.put("text_encoder_2", FIXTURES.resolve("clip-text-gelu/model.safetensors"));
        return m;
    }

    @Test
    void kohyaAndPeftFilesMergeToTheReferenceWeights() throws IOException {
        for (String lcase : new String[]{"lora-sd", "lora-sdxl"}) {
            Path dir = FIXTURES.resolve(lcase);
            Lora kohya = Lora.load(dir.resolve("lora_kohya.safetensors")), peft = Lora.load(dir.resolve("pytorch_lora_weights.safetensors"));
            assertEquals(bases(lcase).keySet(), kohya.components(), lcase);
            assertEquals(bases(lcase).keySet(), peft.components(), lcase);
            try (Safetensors expected = Safetensors.open(dir.resolve("merged_weights_scale_1.0.safetensors"))) {
                int checked = 0, patched = 0;
                for (Map.Entry<String, Path> b : bases(lcase).entrySet()) {
                    try (Safetensors base = Safetensors.open(b.getValue())) {
                        StateDict k = kohya.applyTo(base, b.getKey(), 1f), p = peft.applyTo(base, b.getKey(), 1f);
                        for (String key : base.keys()) {
                            Tensor kt = k.get(key), pt = p.get(key);
                            if (kt == base.get(key)) {
                                assertSame(base.get(key), pt, key);   // untouched tensors are the base's own
                                continue;
                            }
                            patched++;
                            assertArrayEquals(kt.toFloatArray(), pt.toFloatArray(), lcase + " " + key + ": kohya and PEFT merges differ");
                            String ref = b.getKey() + "." + key;
                            if (!expected.contains(ref)) continue;
                            float[] e = expected.get(ref).toFloatArray(), a = kt.toFloatArray();
                            for (int i = 0; i < e.length; i++) assertEquals(e[i], a[i], 2e-6 * (1 + Math.abs(e[i])), ref + " element " + i);
                            checked++;
                        }
                    }
                }
                assertEquals(expected.keys().size(), checked, lcase + ": every reference merged weight compared");
                assertEquals(lcase.equals("lora-sd") ? 52 : 72, patched, lcase + ": every LoRA module merged");
            }
        }
    }

    @Test
    void scaleIsLinearAndTheBaseStaysUnchanged() throws IOException {
        Lora lora = Lora.load(FIXTURES.resolve("lora-sd/lora_kohya.safetensors"));
        String key = "down_blocks.0.resnets.0.conv1.weight";
        try (Safetensors base = Safetensors.open(bases("lora-sd").get("unet"))) {
            float[] before = base.get(key).toFloatArray();
            float[] full = lora.applyTo(base, "unet", 1f).get(key).toFloatArray(), half = lora.applyTo(base, "unet", 0.5f).get(key).toFloatArray();
            float[] zero = lora.applyTo(base, "unet", 0f).get(key).toFloatArray();
            assertArrayEquals(before, base.get(key).toFloatArray());
            assertArrayEquals(before, zero);
            double maxChange = 0;
            for (int i = 0; i < before.length; i++) {
                assertEquals(full[i] - before[i], 2 * (half[i] - before[i]), 1e-5, "element " + i);
                maxChange = Math.max(maxChange, Math.abs(full[i] - before[i]));
            }
            assertTrue(maxChange > 0.01, "the LoRA changes the weight");
        }
    }

    /** SDXL kohya names are SGM ones; OpenCLIP's packed q/k/v of a single file takes te2's q_proj LoRA; the merge keeps F16. */
    @Test
    void appliesToSingleFileComponents() throws IOException {
        Lora lora = Lora.load(FIXTURES.resolve("lora-sdxl/lora_kohya.safetensors"));
        try (SingleFileCheckpoint c = SingleFileCheckpoint.open(FIXTURES.resolve("ckpt-sdxl/model.safetensors"))) {
            for (String component : new String[]{"unet", "text_encoder_2"}) {
                StateDict base = c.component(component), merged = lora.applyTo(base, component, 1f);
                String key = component.equals("unet") ? "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.weight"
                        : "text_model.encoder.layers.0.self_attn.q_proj.weight";
                Tensor m = merged.get(key);
                assertEquals(DType.F16, m.dtype());
                assertArrayEquals(base.get(key).shape(), m.shape());
                assertFalse(java.util.Arrays.equals(base.get(key).toFloatArray(), m.toFloatArray()), key);
            }
        }
    }

    @Test
    void loraModuleWithoutATargetIsAnErrorNamingIt() throws IOException {
        MapDict file = new MapDict().put("lora_unet_down_blocks_9_resnets_0_conv1.lora_down.weight", 4, 16, 3, 3)
                .put("lora_unet_down_blocks_9_resnets_0_conv1.lora_up.weight", 16, 4, 1, 1);
        Lora lora = Lora.of(file);
        try (Safetensors base = Safetensors.open(bases("lora-sd").get("unet"))) {
            WeightFormatException e = assertThrows(WeightFormatException.class, () -> lora.applyTo(base, "unet", 1f));
            assertTrue(e.getMessage().contains("'lora_unet_down_blocks_9_resnets_0_conv1.lora_down.weight' matches no module of unet"), e.getMessage());
        }
        MapDict peft = new MapDict().put("unet.down_blocks.0.resnets.0.conv1.lora_A.weight", 4, 16, 3, 3)
                .put("unet.down_blocks.0.resnets.0.conv1.lora_B.weight", 8, 4, 1, 1);
        try (Safetensors base = Safetensors.open(bases("lora-sd").get("unet"))) {
            WeightFormatException e = assertThrows(WeightFormatException.class, () -> Lora.of(peft).applyTo(base, "unet", 1f));
            assertTrue(e.getMessage().contains("does not fit the weight [16, 16, 3, 3]"), e.getMessage());
        }
    }

    @Test
    void unsupportedTensorsAreErrorsNamingThem() {
        WeightFormatException e = assertThrows(WeightFormatException.class,
                () -> Lora.of(new MapDict().put("lora_unet_conv_in.hada_w1_a", 4, 4)));
        assertTrue(e.getMessage().contains("'lora_unet_conv_in.hada_w1_a'"), e.getMessage());
        e = assertThrows(WeightFormatException.class, () -> Lora.of(new MapDict().put("lora_vae_conv_in.lora_up.weight", 4, 4)));
        assertTrue(e.getMessage().contains("names no known model"), e.getMessage());
        e = assertThrows(WeightFormatException.class, () -> Lora.of(new MapDict().put("lora_unet_conv_in.lora_up.weight", 4, 4)));
        assertTrue(e.getMessage().contains("has no down (A) weight"), e.getMessage());
        e = assertThrows(WeightFormatException.class, () -> Lora.of(new MapDict().put("vae.encoder.conv_in.lora_A.weight", 4, 4)));
        assertTrue(e.getMessage().contains("'vae.encoder.conv_in.lora_A.weight'"), e.getMessage());
    }

    /** Older diffusers attention-processor names patch the same modules as PEFT names. */
    @Test
    void attentionProcessorNamesMapToModules() {
        MapDict old = new MapDict().put("unet.mid_block.attentions.0.transformer_blocks.0.attn1.processor.to_out_lora.down.weight", 2, 8)
                .put("unet.mid_block.attentions.0.transformer_blocks.0.attn1.processor.to_out_lora.up.weight", 8, 2)
                .put("text_encoder.text_model.encoder.layers.0.self_attn.to_q_lora.down.weight", 2, 8)
                .put("text_encoder.text_model.encoder.layers.0.self_attn.to_q_lora.up.weight", 8, 2);
        MapDict unet = new MapDict().put("mid_block.attentions.0.transformer_blocks.0.attn1.to_out.0.weight", 8, 8);
        MapDict te = new MapDict().put("text_model.encoder.layers.0.self_attn.q_proj.weight", 8, 8);
        Lora lora = Lora.of(old);
        assertNotSame(unet.get("mid_block.attentions.0.transformer_blocks.0.attn1.to_out.0.weight"),
                lora.applyTo(unet, "unet", 1f).get("mid_block.attentions.0.transformer_blocks.0.attn1.to_out.0.weight"));
        assertNotSame(te.get("text_model.encoder.layers.0.self_attn.q_proj.weight"),
                lora.applyTo(te, "text_encoder", 1f).get("text_model.encoder.layers.0.self_attn.q_proj.weight"));
    }

    /** {@code W + scale * (up * alpha / rank) @ down} on numbers worked out by hand, conv flattened. */
    @Test
    void mergeFormula() {
        Tensor w = Tensor.of(new float[]{1, 2, 3, 4}, 2, 2, 1, 1);
        Lora.Update u = new Lora.Update("m", "m.lora_down.weight", Tensor.of(new float[]{1, 2}, 1, 2, 1, 1), Tensor.of(new float[]{3, 4}, 2, 1, 1, 1), 2f);
        // (up * 2 / 1) @ down = [[6, 12], [8, 16]]; scale 0.5 -> + [[3, 6], [4, 8]]
        assertArrayEquals(new float[]{4, 8, 7, 12}, LoraOverlay.merge(w, u, 0.5f).toFloatArray());
        assertArrayEquals(new int[]{2, 2, 1, 1}, LoraOverlay.merge(w, u, 0.5f).shape());
    }

    static final class MapDict implements StateDict {
        final Map<String, Tensor> tensors = new LinkedHashMap<>();

        MapDict put(String key, int... shape) {
            float[] v = new float[(int) Tensor.numel(shape)];
            for (int i = 0; i < v.length; i++) v[i] = (i % 7) * 0.25f - 0.5f;
            tensors.put(key, Tensor.of(v, shape));
            return this;
        }

        @Override public String source() { return "test.safetensors"; }
        @Override public Set<String> keys() { return tensors.keySet(); }

        @Override
        public Tensor get(String key) {
            Tensor t = tensors.get(key);
            if (t == null) throw new WeightFormatException("test.safetensors: no tensor '" + key + "'");
            return t;
        }
    }
}
