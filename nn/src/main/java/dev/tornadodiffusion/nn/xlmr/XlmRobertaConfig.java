package dev.tornadodiffusion.nn.xlmr;

import dev.tornadodiffusion.weights.JsonConfig;

/**
 * transformers' {@code XLMRobertaConfig} (the BERT family fields), with its defaults. Only what the model computes
 * with is kept; absolute positions and the exact GELU are the only variants supported (as XLM-R and MEXMA use).
 */
public record XlmRobertaConfig(int vocab_size, int hidden_size, int num_hidden_layers, int num_attention_heads,
                               int intermediate_size, int max_position_embeddings, int type_vocab_size,
                               float layer_norm_eps, int pad_token_id) {

    public static XlmRobertaConfig from(JsonConfig c) {
        c.getChoice("hidden_act", "gelu", "gelu");
        c.getChoice("position_embedding_type", "absolute", "absolute");
        int hidden = c.getInt("hidden_size", 768), heads = c.getInt("num_attention_heads", 12);
        if (heads <= 0 || hidden % heads != 0) throw c.invalid("num_attention_heads", heads + " does not divide hidden_size " + hidden);
        int types = c.getInt("type_vocab_size", 2);
        if (types < 1) throw c.invalid("type_vocab_size", "must be at least 1, got " + types);
        return new XlmRobertaConfig(c.getInt("vocab_size", 30522), hidden, c.getInt("num_hidden_layers", 12), heads,
                c.getInt("intermediate_size", 3072), c.getInt("max_position_embeddings", 512), types,
                (float) c.getDouble("layer_norm_eps", 1e-12), c.getInt("pad_token_id", 1));
    }
}
