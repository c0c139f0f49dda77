package dev.tornadodiffusion.weights.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Json;
import dev.tornadodiffusion.weights.Safetensors;
import dev.tornadodiffusion.weights.SafetensorsWriter;
import dev.tornadodiffusion.weights.StateDict;
import dev.tornadodiffusion.weights.WeightFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.*;

/** Key mapping of single-file checkpoints against the fixtures' source models (ckpt-sd, ckpt-sdxl). */
class SingleFileCheckpointTest {
    static final Path FIXTURES = Path.of(System.getProperty("fixtures.dir", "../shared/fixtures"));

    /** Every mapped tensor equals the source model's float32 tensor rounded to F16, and no key is missing or extra. */
    static void assertSameAsF16(StateDict mapped, StateDict source) {
        assertEquals(new TreeSet<>(source.keys()), new TreeSet<>(mapped.keys()), mapped.source());
        for (String k : source.keys()) {
            Tensor m = mapped.get(k), s = source.get(k);
            assertArrayEquals(s.shape(), m.shape(), k);
            assertEquals(DType.F16, m.dtype(), k);
            assertBytesEqual(s.to(DType.F16), m, k);
        }
    }

    /** Same dtype, shape and element bytes in row-major order. */
    static void assertBytesEqual(Tensor expected, Tensor actual, String what) {
        assertEquals(expected.dtype(), actual.dtype(), what);
        assertArrayEquals(expected.shape(), actual.shape(), what);
        Tensor e = expected.contiguous(), a = actual.contiguous();
        long at = e.segment().asSlice(0, e.byteSize()).mismatch(a.segment().asSlice(0, a.byteSize()));
        assertEquals(-1, at, what + ": bytes differ at " + at);
    }

    @Test
    void sdFileMapsToTheSourceUNetAndVaeBitwise() throws IOException {
        try (SingleFileCheckpoint c = SingleFileCheckpoint.open(FIXTURES.resolve("ckpt-sd/model.safetensors"));
             Safetensors unet = Safetensors.open(FIXTURES.resolve("unet-sd/diffusion_pytorch_model.safetensors"));
             Safetensors vae = Safetensors.open(FIXTURES.resolve("vae-sd/diffusion_pytorch_model.safetensors"))) {
            assertEquals(Architecture.SD1, c.architecture());
            assertEquals(List.of("unet", "vae"), List.copyOf(c.components()));
            assertSameAsF16(c.component("unet"), unet);
            assertSameAsF16(c.component("vae"), vae);
            assertArrayEquals(new int[]{64, 64}, c.component("vae").get("decoder.mid_block.attentions.0.to_q.weight").shape());
        }
    }

    /** The torch .ckpt container ({'state_dict': ...}) gives the same components as the safetensors file. */
    @Test
    void ckptGivesTheSameComponentsAsSafetensors() throws IOException {
        try (SingleFileCheckpoint ckpt = SingleFileCheckpoint.open(FIXTURES.resolve("ckpt-sd/model.ckpt"));
             SingleFileCheckpoint st = SingleFileCheckpoint.open(FIXTURES.resolve("ckpt-sd/model.safetensors"))) {
            assertEquals(Architecture.SD1, ckpt.architecture());
            assertEquals(st.components(), ckpt.components());
            for (String c : st.components()) {
                StateDict a = st.component(c), b = ckpt.component(c);
                assertEquals(a.keys(), b.keys(), c);
                for (String k : a.keys()) assertBytesEqual(a.get(k), b.get(k), c + " " + k);
            }
        }
    }

    @Test
    void sdxlFileMapsToTheSourceUNetAndOpenClipEncoderBitwise() throws IOException {
        try (SingleFileCheckpoint c = SingleFileCheckpoint.open(FIXTURES.resolve("ckpt-sdxl/model.safetensors"));
             Safetensors unet = Safetensors.open(FIXTURES.resolve("unet-sdxl/diffusion_pytorch_model.safetensors"));
             Safetensors te2 = Safetensors.open(FIXTURES.resolve("clip-text-gelu/model.safetensors"))) {
            assertEquals(Architecture.SDXL, c.architecture());
            assertEquals(List.of("unet", "text_encoder_2"), List.copyOf(c.components()));
            assertSameAsF16(c.component("unet"), unet);
            assertSameAsF16(c.component("text_encoder_2"), te2);
        }
    }

    /** The configs read from the keys agree with the fixtures' configs on everything the keys can tell. */
    @Test
    void derivedConfigsMatchTheSourceConfigsWhereTheKeysTell() throws IOException {
        List<String> derivable = List.of("in_channels", "out_channels", "block_out_channels", "layers_per_block", "down_block_types",
                "up_block_types", "cross_attention_dim", "use_linear_projection", "transformer_layers_per_block",
                "addition_embed_type", "projection_class_embeddings_input_dim", "latent_channels", "vocab_size", "hidden_size",
                "intermediate_size", "num_hidden_layers", "max_position_embeddings", "projection_dim", "hidden_act", "architectures");
        for (String[] c : new String[][]{{"ckpt-sd", "unet"}, {"ckpt-sd", "vae"}, {"ckpt-sdxl", "unet"}, {"ckpt-sdxl", "text_encoder_2"}}) {
            try (SingleFileCheckpoint ckpt = SingleFileCheckpoint.open(FIXTURES.resolve(c[0]).resolve("model.safetensors"))) {
                ObjectNode derived = ckpt.config(c[1]);
                JsonNode expected = Json.read(FIXTURES.resolve(c[0]).resolve(c[1]).resolve("config.json"));
                for (String field : derivable) {
                    if (!expected.has(field) || expected.get(field).isNull()) continue;
                    JsonNode e = expected.get(field), d = derived.get(field);
                    assertNotNull(d, c[0] + " " + c[1] + " " + field);
                    // diffusers writes transformer_layers_per_block 1 for [1, 1, 1]
                    if (field.equals("transformer_layers_per_block") && e.isInt()) assertEquals(e.asInt(), d.isArray() ? d.get(0).asInt() : d.asInt());
                    else assertEquals(e, d, c[0] + " " + c[1] + " " + field);
                }
            }
        }
    }

    /** Loading then writing back through the same tables gives the file's own keys, shapes and bytes. */
    @Test
    void toOriginalInvertsLoading(@TempDir Path tmp) throws IOException {
        for (String file : List.of("ckpt-sd/model.safetensors", "ckpt-sdxl/model.safetensors")) {
            try (SingleFileCheckpoint c = SingleFileCheckpoint.open(FIXTURES.resolve(file));
                 Safetensors original = Safetensors.open(FIXTURES.resolve(file))) {
                Map<String, StateDict> components = new LinkedHashMap<>();
                for (String name : c.components()) components.put(name, c.component(name));
                Map<String, Tensor> back = SingleFileCheckpoint.toOriginal(components, c.architecture());
                assertEquals(new TreeSet<>(original.keys()), new TreeSet<>(back.keySet()), file);
                Path written = tmp.resolve("back.safetensors");
                SafetensorsWriter.write(written, back);
                try (Safetensors w = Safetensors.open(written)) {
                    for (String k : original.keys()) assertBytesEqual(original.get(k), w.get(k), k);
                }
            }
        }
    }

    /** A file with only a UNet (or VAE), in either layout and without prefix, opens as that one component. */
    @Test
    void bareComponentFiles(@TempDir Path tmp) throws IOException {
        try (SingleFileCheckpoint diffusers = SingleFileCheckpoint.open(FIXTURES.resolve("unet-sdxl/diffusion_pytorch_model.safetensors"));
             Safetensors source = Safetensors.open(FIXTURES.resolve("unet-sdxl/diffusion_pytorch_model.safetensors"))) {
            assertEquals(Architecture.SDXL, diffusers.architecture());
            assertEquals(List.of("unet"), List.copyOf(diffusers.components()));
            assertEquals(source.keys(), diffusers.component("unet").keys());
            for (String k : source.keys()) assertBytesEqual(source.get(k), diffusers.component("unet").get(k), k);
        }
        try (SingleFileCheckpoint full = SingleFileCheckpoint.open(FIXTURES.resolve("ckpt-sd/model.safetensors"));
             Safetensors file = Safetensors.open(FIXTURES.resolve("ckpt-sd/model.safetensors"))) {
            for (String[] part : new String[][]{{"unet", "model.diffusion_model."}, {"vae", "first_stage_model."}}) {
                Map<String, Tensor> bare = new LinkedHashMap<>();
                for (String k : file.keys()) if (k.startsWith(part[1])) bare.put(k.substring(part[1].length()), file.get(k));
                Path written = tmp.resolve(part[0] + ".safetensors");
                SafetensorsWriter.write(written, bare);
                try (SingleFileCheckpoint c = SingleFileCheckpoint.open(written)) {
                    assertEquals(List.of(part[0]), List.copyOf(c.components()));
                    StateDict expected = full.component(part[0]), actual = c.component(part[0]);
                    assertEquals(new TreeSet<>(expected.keys()), new TreeSet<>(actual.keys()));
                    for (String k : expected.keys()) assertBytesEqual(expected.get(k), actual.get(k), k);
                }
            }
        }
    }

    /** {@code --unet FILE}: one component that owns its file, from a whole checkpoint or a UNet-only file. */
    @Test
    void openComponentOwnsTheFile() throws IOException {
        StateDict unet = SingleFileCheckpoint.openComponent(FIXTURES.resolve("ckpt-sd/model.ckpt"), "unet");
        try (Safetensors source = Safetensors.open(FIXTURES.resolve("unet-sd/diffusion_pytorch_model.safetensors"))) {
            assertSameAsF16(unet, source);
        }
        Tensor t = unet.get("conv_in.weight");
        unet.close();
        assertThrows(IllegalStateException.class, () -> t.getFlat(0));   // unmapped
        try (StateDict lightning = SingleFileCheckpoint.openComponent(FIXTURES.resolve("unet-sd/diffusion_pytorch_model.safetensors"), "unet")) {
            assertArrayEquals(t.shape(), lightning.get("conv_in.weight").shape());
        }
        WeightFormatException e = assertThrows(WeightFormatException.class,
                () -> SingleFileCheckpoint.openComponent(FIXTURES.resolve("ckpt-sdxl/model.safetensors"), "vae"));
        assertTrue(e.getMessage().endsWith("no vae in this checkpoint (it has unet, text_encoder_2)"), e.getMessage());
    }

    /** Levels and layers come from the keys: a 4-level UNet with 1 layer per block and attention only in the middle levels. */
    @Test
    void unetOfAnotherShapeRoundTrips() {
        MapStateDict d = new MapStateDict();
        d.put("conv_in.weight", 8, 4, 3, 3).put("conv_out.weight", 4, 8, 3, 3).put("time_embedding.linear_1.weight", 32, 8);
        int levels = 4, lpb = 1;
        for (int i = 0; i < levels; i++) {
            boolean attention = i == 1 || i == 2;
            for (int j = 0; j < lpb; j++) {
                d.put("down_blocks." + i + ".resnets." + j + ".conv1.weight", 8, 8, 3, 3).put("down_blocks." + i + ".resnets." + j + ".norm1.weight", 8);
                if (attention) d.put("down_blocks." + i + ".attentions." + j + ".transformer_blocks.0.attn1.to_q.weight", 8, 8);
            }
            if (i < levels - 1) d.put("down_blocks." + i + ".downsamplers.0.conv.weight", 8, 8, 3, 3);
            int u = levels - 1 - i;
            for (int j = 0; j <= lpb; j++) {
                d.put("up_blocks." + u + ".resnets." + j + ".conv_shortcut.weight", 8, 16, 1, 1);
                if (attention) d.put("up_blocks." + u + ".attentions." + j + ".proj_in.weight", 8, 8);
            }
            if (u < levels - 1) d.put("up_blocks." + u + ".upsamplers.0.conv.weight", 8, 8, 3, 3);
        }
        d.put("mid_block.resnets.0.conv2.weight", 8, 8, 3, 3).put("mid_block.attentions.0.norm.weight", 8).put("mid_block.resnets.1.time_emb_proj.weight", 8, 32);

        Map<String, Tensor> original = SingleFileCheckpoint.toOriginal(Map.of("unet", d), Architecture.SD1);
        String ldm = "model.diffusion_model.";
        assertTrue(original.containsKey(ldm + "input_blocks.6.0.op.weight"), original.keySet().toString());   // level 2's downsampler: (2+1)(1+1)
        assertTrue(original.containsKey(ldm + "output_blocks.1.1.conv.weight"));   // up level 0 has no attention: upsampler at .1
        assertTrue(original.containsKey(ldm + "output_blocks.3.2.conv.weight"));   // up level 1 has attention: upsampler at .2
        assertTrue(original.containsKey(ldm + "output_blocks.3.1.proj_in.weight"));
        MapStateDict file = new MapStateDict();
        original.forEach(file.tensors::put);
        try (SingleFileCheckpoint c = SingleFileCheckpoint.of(file, null)) {
            assertEquals(new TreeSet<>(d.keys()), new TreeSet<>(c.component("unet").keys()));
            for (String k : d.keys()) assertSame(d.get(k).segment(), c.component("unet").get(k).segment(), k);
        }
    }

    @Test
    void unknownKeyInsideAComponentIsAnErrorNamingIt() {
        MapStateDict file = new MapStateDict();
        file.put("model.diffusion_model.input_blocks.0.0.weight", 4, 4, 3, 3).put("model.diffusion_model.input_blocks.1.0.in_layers.0.weight", 4)
                .put("model.diffusion_model.output_blocks.0.0.in_layers.0.weight", 4).put("model.diffusion_model.output_blocks.1.0.in_layers.0.weight", 4)
                .put("model.diffusion_model.input_blocks.1.0.mystery.weight", 4)
                .put("model_ema.decay", 1);   // outside every component: skipped
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> SingleFileCheckpoint.of(file, null));
        assertTrue(e.getMessage().contains("'model.diffusion_model.input_blocks.1.0.mystery.weight'"), e.getMessage());
    }

    @Test
    void misShapedVaeAttentionWeightIsAnErrorNamingIt() {
        MapStateDict file = new MapStateDict();
        file.put("first_stage_model.encoder.conv_in.weight", 8, 3, 3, 3).put("first_stage_model.encoder.down.0.block.0.conv1.weight", 8, 8, 3, 3)
                .put("first_stage_model.encoder.mid.attn_1.q.weight", 8, 8, 3, 3);
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> SingleFileCheckpoint.of(file, Architecture.SD1));
        assertTrue(e.getMessage().contains("first_stage_model.encoder.mid.attn_1.q.weight") && e.getMessage().contains("1x1"), e.getMessage());
    }

    @Test
    void notACheckpointIsAnError() {
        MapStateDict file = new MapStateDict().put("foo.weight", 2);
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> SingleFileCheckpoint.of(file, null));
        assertTrue(e.getMessage().startsWith("test weights: not a Stable Diffusion checkpoint"), e.getMessage());
    }

    /** The text encoder prefixes decide the architecture; SD 2.x drops OpenCLIP's last layer and projection when the file has them. */
    @Test
    void openClipOfSd2DropsTheLastLayer() {
        MapStateDict file = new MapStateDict();
        String p = "cond_stage_model.model.";
        file.put(p + "token_embedding.weight", 10, 4).put(p + "positional_embedding", 5, 4).put(p + "ln_final.weight", 4)
                .put(p + "text_projection", 4, 3).put(p + "logit_scale");
        for (int i = 0; i < 2; i++) file.put(p + "transformer.resblocks." + i + ".attn.in_proj_weight", 12, 4).put(p + "transformer.resblocks." + i + ".ln_1.weight", 4);
        try (SingleFileCheckpoint c = SingleFileCheckpoint.of(file, null)) {
            assertEquals(Architecture.SD2, c.architecture());
            StateDict te = c.component("text_encoder");
            assertEquals(new TreeSet<>(List.of("text_model.embeddings.token_embedding.weight", "text_model.embeddings.position_embedding.weight",
                    "text_model.final_layer_norm.weight", "text_model.encoder.layers.0.layer_norm1.weight", "text_model.encoder.layers.0.self_attn.q_proj.weight",
                    "text_model.encoder.layers.0.self_attn.k_proj.weight", "text_model.encoder.layers.0.self_attn.v_proj.weight")), new TreeSet<>(te.keys()));
            Tensor packed = file.get(p + "transformer.resblocks.0.attn.in_proj_weight");
            assertEquals(packed.get(4, 1), te.get("text_model.encoder.layers.0.self_attn.k_proj.weight").get(0, 1));
        }
        // written back as diffusers' script does (kept layers, no projection), which loads back to the same encoder
        try (SingleFileCheckpoint c = SingleFileCheckpoint.of(file, Architecture.SD2)) {
            StateDict te = c.component("text_encoder");
            MapStateDict back = new MapStateDict();
            SingleFileCheckpoint.toOriginal(Map.of("text_encoder", te), Architecture.SD2).forEach(back.tensors::put);
            assertEquals(new TreeSet<>(List.of(p + "token_embedding.weight", p + "positional_embedding", p + "ln_final.weight",
                    p + "transformer.resblocks.0.attn.in_proj_weight", p + "transformer.resblocks.0.ln_1.weight")), new TreeSet<>(back.keys()));
            try (SingleFileCheckpoint again = SingleFileCheckpoint.of(back, null)) {
                assertEquals(te.keys(), again.component("text_encoder").keys());
                for (String k : te.keys()) assertArrayEquals(te.get(k).toFloatArray(), again.component("text_encoder").get(k).toFloatArray(), k);
            }
        }
    }

    /** A tensor with distinct values per element, so views that read the wrong element are caught. */
    static Tensor ramp(int... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = i * 0.5f - 3;
        return Tensor.of(v, shape);
    }

    /** An in-memory StateDict for tests. */
    static final class MapStateDict implements StateDict {
        final Map<String, Tensor> tensors = new LinkedHashMap<>();

        MapStateDict put(String key, int... shape) {
            tensors.put(key, ramp(shape));
            return this;
        }

        @Override public String source() { return "test weights"; }
        @Override public java.util.Set<String> keys() { return tensors.keySet(); }

        @Override
        public Tensor get(String key) {
            Tensor t = tensors.get(key);
            if (t == null) throw new WeightFormatException("test weights: no tensor '" + key + "' " + Arrays.toString(tensors.keySet().toArray()));
            return t;
        }
    }
}
