package dev.tornadodiffusion.nn.clip;

import dev.tornadodiffusion.weights.JsonConfig;

/**
 * transformers' {@code CLIPTextConfig}: the text tower of a CLIP model, with the same field names and defaults.
 * SD1.x / SDXL configs carry the legacy {@code eos_token_id = 2}, which makes the model pool at argmax(input_ids).
 */
public record ClipTextConfig(int vocab_size, int hidden_size, int intermediate_size, int projection_dim,
                             int num_hidden_layers, int num_attention_heads, int max_position_embeddings,
                             String hidden_act, float layer_norm_eps, long eos_token_id) {

    public static ClipTextConfig from(JsonConfig c) {
        String act = c.getChoice("hidden_act", "quick_gelu", "quick_gelu", "gelu");
        int hidden = c.getInt("hidden_size", 512), heads = c.getInt("num_attention_heads", 8);
        if (heads <= 0 || hidden % heads != 0) throw c.invalid("num_attention_heads", heads + " does not divide hidden_size " + hidden);
        return new ClipTextConfig(c.getInt("vocab_size", 49408), hidden, c.getInt("intermediate_size", 2048),
                c.getInt("projection_dim", 512), c.getInt("num_hidden_layers", 12), heads,
                c.getInt("max_position_embeddings", 77), act, (float) c.getDouble("layer_norm_eps", 1e-5),
                c.getLong("eos_token_id", 49407));
    }
}
