package dev.tornadodiffusion.nn.clip;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tornadodiffusion.nn.Fixtures;
import dev.tornadodiffusion.weights.JsonConfig;
import dev.tornadodiffusion.nn.MapStateDict;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Compare;
import dev.tornadodiffusion.tensor.Compare.Check;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Safetensors;
import dev.tornadodiffusion.weights.WeightFormatException;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class ClipTextModelTest {
    static final Backend BE = Backends.cpu();


    static ClipTextConfig config(String caseName) throws Exception {
        return ClipTextConfig.from(JsonConfig.read(Fixtures.path(caseName).resolve("config.json")));
    }

    /**
     * F16 weights are used as stored: the result equals the F32 model on the same (rounded) values up to float32
     * arithmetic, and differs from the F32 reference by the weight rounding (2^-11 relative per weight, through three
     * layers: measured 4e-3 on values up to 6.5), within 1e-2.
     */
    @Test
    void f16WeightsAreWidenedExactly() throws Exception {
        Path dir = Fixtures.path("clip-text-quickgelu");
        try (Safetensors w = Safetensors.open(dir.resolve("model.safetensors"));
             Safetensors in = Safetensors.open(dir.resolve("inputs.safetensors"));
             Safetensors out = Safetensors.open(dir.resolve("outputs.safetensors"))) {
            MapStateDict f16 = new MapStateDict(), rounded = new MapStateDict();
            for (String k : w.keys()) {
                f16.put(k, w.get(k).to(DType.F16));
                rounded.put(k, w.get(k).to(DType.F16).to(DType.F32));
            }
            ClipTextConfig c = config("clip-text-quickgelu");
            ClipTextModel.Output half = new ClipTextModel(c, new Params(f16, BE), true).forward(in.get("input_ids"));
            ClipTextModel.Output wide = new ClipTextModel(c, new Params(rounded, BE), true).forward(in.get("input_ids"));
            assertTrue(Compare.absolute("f16 vs widened", half.last_hidden_state(), wide.last_hidden_state(), 1e-5).pass());
            for (int i = 0; i < half.hidden_states().size(); i++) {
                Check ch = Compare.absolute("hidden_states." + i, half.hidden_states().get(i), out.get("hidden_states." + i), 1e-2);
                assertTrue(ch.pass(), ch.toString());
            }
            Check last = Compare.absolute("last_hidden_state", half.last_hidden_state(), out.get("last_hidden_state"), 1e-2);
            Check proj = Compare.absolute("text_embeds", half.text_embeds(), out.get("text_embeds"), 1e-2);
            assertTrue(last.pass(), last.toString());
            assertTrue(proj.pass(), proj.toString());
            assertTrue(last.maxAbs() > 1e-4, "F16 rounding must show: " + last);
        }
    }

    @Test
    void withoutProjectionTheFileProjectionIsIgnored() throws Exception {
        Path dir = Fixtures.path("clip-text-gelu");
        try (Safetensors w = Safetensors.open(dir.resolve("model.safetensors"));
             Safetensors in = Safetensors.open(dir.resolve("inputs.safetensors"));
             Safetensors out = Safetensors.open(dir.resolve("outputs.safetensors"))) {
            Params p = new Params(w, BE);
            ClipTextModel plain = new ClipTextModel(config("clip-text-gelu"), p, false);
            p.checkAllUsed();
            ClipTextModel.Output o = plain.forward(in.get("input_ids"));
            assertNull(o.text_embeds());
            assertTrue(Compare.absolute("last", o.last_hidden_state(), out.get("last_hidden_state"), 4e-5).pass());
            assertSame(o.hidden_states().get(2), o.hiddenState(-2));
        }
    }

    /** Legacy eos_token_id 2 pools at argmax(ids); otherwise at the first eos_token_id (position 0 when absent). */
    @Test
    void poolingPosition() throws Exception {
        ClipTextConfig legacy = config("clip-text-gelu");
        ClipTextConfig modern = new ClipTextConfig(legacy.vocab_size(), legacy.hidden_size(), legacy.intermediate_size(), legacy.projection_dim(),
                legacy.num_hidden_layers(), legacy.num_attention_heads(), legacy.max_position_embeddings(), legacy.hidden_act(), legacy.layer_norm_eps(), 49407);
        try (Safetensors w = Safetensors.open(Fixtures.path("clip-text-gelu").resolve("model.safetensors"))) {
            Tensor ids = Tensor.ofLongs(new long[]{49406, 320, 1125, 49407, 0, 0, 49406, 500, 320, 7, 7, 7}, 2, 6);
            ClipTextModel.Output a = new ClipTextModel(legacy, new Params(w, BE), true).forward(ids);
            ClipTextModel.Output b = new ClipTextModel(modern, new Params(w, BE), true).forward(ids);
            assertPooledAt(a, 0, 3);
            assertPooledAt(b, 0, 3);
            assertPooledAt(a, 1, 0);   // no end-of-text: the start token 49406 is the largest id
            assertPooledAt(b, 1, 0);
            Tensor noStart = Tensor.ofLongs(new long[]{320, 1125, 9000, 5}, 1, 4);
            assertPooledAt(new ClipTextModel(legacy, new Params(w, BE), true).forward(noStart), 0, 2);
            assertPooledAt(new ClipTextModel(modern, new Params(w, BE), true).forward(noStart), 0, 0);
        }
    }

    static void assertPooledAt(ClipTextModel.Output o, int row, int position) {
        assertArrayEquals(o.last_hidden_state().select(0, row).select(0, position).toFloatArray(), o.pooler_output().select(0, row).toFloatArray(), 0f);
    }

    @Test
    void badInputsAndWeightsGiveOneLineErrors() throws Exception {
        ClipTextConfig c = config("clip-text-quickgelu");
        try (Safetensors w = Safetensors.open(Fixtures.path("clip-text-quickgelu").resolve("model.safetensors"))) {
            ClipTextModel m = new ClipTextModel(c, new Params(w, BE), true);
            var e = assertThrows(IllegalArgumentException.class, () -> m.forward(Tensor.ofLongs(new long[]{49406, 49408}, 1, 2)));
            assertTrue(e.getMessage().contains("49408"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> m.forward(Tensor.ofLongs(new long[78], 1, 78)));
            assertThrows(IllegalArgumentException.class, () -> m.forward(Tensor.zeros(1, 4)));

            MapStateDict missing = new MapStateDict();
            for (String k : w.keys()) if (!k.equals("text_model.encoder.layers.1.mlp.fc2.bias")) missing.put(k, w.get(k));
            e = assertThrows(WeightFormatException.class, () -> new ClipTextModel(c, new Params(missing, BE), true));
            assertTrue(e.getMessage().contains("text_model.encoder.layers.1.mlp.fc2.bias"), e.getMessage());

            ClipTextConfig wider = new ClipTextConfig(c.vocab_size(), 64, c.intermediate_size(), c.projection_dim(), c.num_hidden_layers(),
                    c.num_attention_heads(), c.max_position_embeddings(), c.hidden_act(), c.layer_norm_eps(), c.eos_token_id());
            e = assertThrows(WeightFormatException.class, () -> new ClipTextModel(wider, new Params(w, BE), true));
            assertTrue(e.getMessage().contains("token_embedding.weight"), e.getMessage());
        }
        var bad = new JsonConfig(new ObjectMapper().readTree("{\"hidden_act\": \"relu\"}"), "config.json");
        var e = assertThrows(WeightFormatException.class, () -> ClipTextConfig.from(bad));
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("hidden_act"), e.getMessage());
        var heads = new JsonConfig(new ObjectMapper().readTree("{\"hidden_size\": 30, \"num_attention_heads\": 4}"), "config.json");
        assertThrows(WeightFormatException.class, () -> ClipTextConfig.from(heads));
    }
}
