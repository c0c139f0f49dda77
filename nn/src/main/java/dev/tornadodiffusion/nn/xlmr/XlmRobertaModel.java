package dev.tornadodiffusion.nn.xlmr;

import dev.tornadodiffusion.weights.JsonConfig;
import dev.tornadodiffusion.nn.LayerNorm;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.ModelFiles;
import dev.tornadodiffusion.weights.StateDict;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

/**
 * transformers' {@code XLMRobertaModel} without the pooler (the text tower of MEXMA and mexma-siglip):
 * <ol>
 *   <li>position ids from the ids: {@code cumsum(ids != pad) * (ids != pad) + pad}, so the first token is at
 *       position pad + 1 and padding at pad (not from the attention mask);</li>
 *   <li>{@code LayerNorm(word_embeddings[ids] + token_type_embeddings[0] + position_embeddings[positions])};</li>
 *   <li>post-LN encoder layers whose attention ignores masked keys ({@link XlmRobertaLayer}).</li>
 * </ol>
 * Keys are the HF ones ({@code embeddings.*}, {@code encoder.layer.N.*}) under a prefix ("" for an
 * XLMRobertaModel file, {@code roberta.} in a masked-LM file, {@code text_model.} in mexma-siglip). Weights are
 * used in their stored dtype (F32, F16 or BF16).
 */
public final class XlmRobertaModel implements AutoCloseable {
    public final XlmRobertaConfig config;
    public final Tensor word_embeddings, position_embeddings, token_type_embeddings;
    public final LayerNorm embeddings_norm;
    public final List<XlmRobertaLayer> layers = new ArrayList<>();
    private final Backend be;
    private final StateDict owned;

    /** Builds the model from the keys under {@code p} (the caller checks strictness, e.g. {@code p.checkAllUsed()}). */
    public XlmRobertaModel(XlmRobertaConfig config, Params p) {
        this(config, p, null);
    }

    private XlmRobertaModel(XlmRobertaConfig config, Params p, StateDict owned) {
        this.config = config;
        this.owned = owned;
        int d = config.hidden_size();
        Params emb = p.child("embeddings");
        this.word_embeddings = emb.child("word_embeddings").get("weight", config.vocab_size(), d);
        this.position_embeddings = emb.child("position_embeddings").get("weight", config.max_position_embeddings(), d);
        this.token_type_embeddings = emb.child("token_type_embeddings").get("weight", config.type_vocab_size(), d);
        this.embeddings_norm = new LayerNorm(emb.child("LayerNorm"), d, config.layer_norm_eps());
        emb.ignore("position_ids");     // buffers transformers recomputes
        emb.ignore("token_type_ids");
        for (int i = 0; i < config.num_hidden_layers(); i++)
            layers.add(new XlmRobertaLayer(p.child("encoder").child("layer").child(i), config));
        // MEXMA never trained its pooler and nothing here uses it; files that carry one still load
        for (String k : new String[]{"weight", "bias"}) p.child("pooler").child("dense").ignore(k);
        this.be = p.backend();
    }

    /** A transformers folder (config.json + the weights {@link ModelFiles} finds), strict: every key must be used. */
    public static XlmRobertaModel load(Path folder, Backend be) throws IOException {
        XlmRobertaConfig config = XlmRobertaConfig.from(JsonConfig.read(folder.resolve("config.json")));
        return StateDict.loadOrClose(ModelFiles.open(folder, null), w -> Params.strict(w, be, p -> new XlmRobertaModel(config, p, w)));
    }

    @Override
    public void close() {
        if (owned != null) owned.close();
    }

    /**
     * @param last_hidden_state [B, N, D] the last layer's output (post-LN: no final LayerNorm)
     * @param hidden_states     N_layers + 1 tensors [B, N, D]: the embeddings, then each layer's output
     */
    public record Output(Tensor last_hidden_state, List<Tensor> hidden_states) {
        /** {@code last_hidden_state[:, 0]}, the {@code <s>} position: the sentence embedding MEXMA uses. */
        public Tensor cls() {
            int b = last_hidden_state.dim(0), d = last_hidden_state.dim(2);
            return last_hidden_state.narrow(1, 0, 1).contiguous().reshape(b, d);
        }
    }

    /**
     * @param input_ids      integer [B, N], N <= max_position_embeddings - pad_token_id - 1
     * @param attention_mask integer [B, N] of 0/1, or null for all ones
     */
    public Output forward(Tensor input_ids, Tensor attention_mask) {
        if (input_ids.rank() != 2 || input_ids.dtype().floating)
            throw new IllegalArgumentException("XLM-R: input_ids must be an integer tensor [batch, tokens], got " + input_ids);
        int b = input_ids.dim(0), n = input_ids.dim(1);
        if (n + config.pad_token_id() + 1 > config.max_position_embeddings())
            throw new IllegalArgumentException("XLM-R: " + n + " tokens exceed the " + (config.max_position_embeddings() - config.pad_token_id() - 1) + " positions of the model");
        long[] ids = input_ids.contiguous().toLongArray();
        for (long id : ids)
            if (id < 0 || id >= config.vocab_size())
                throw new IllegalArgumentException("XLM-R: token id " + id + " is outside the vocabulary (vocab_size " + config.vocab_size() + ")");
        long[][] keys = attention_mask == null ? null : keys(attention_mask, b, n);

        // 1. positions from the ids
        long[] positions = positionIds(ids, n, config.pad_token_id());
        // 2. embeddings (summed in transformers' order)
        Tensor x = be.add(be.embedding(word_embeddings, input_ids), token_type_embeddings.narrow(0, 0, 1));
        x = embeddings_norm.forward(be.add(x, be.embedding(position_embeddings, Tensor.ofLongs(positions, b, n))));
        // 3. encoder
        List<Tensor> hidden = new ArrayList<>();
        hidden.add(x);
        for (XlmRobertaLayer layer : layers) {
            x = layer.forward(x, keys);
            hidden.add(x);
        }
        return new Output(x, List.copyOf(hidden));
    }

    /** transformers' {@code create_position_ids_from_input_ids}: per row of {@code n} ids, the running count of non-pad ids + pad, pads at pad. */
    public static long[] positionIds(long[] ids, int n, int pad) {
        long[] positions = new long[ids.length];
        for (int row = 0; row < ids.length; row += n)
            for (int j = 0, count = 0; j < n; j++) {
                boolean token = ids[row + j] != pad;
                if (token) count++;
                positions[row + j] = token ? count + pad : pad;
            }
        return positions;
    }

    /** Per row, the positions whose mask is 1; null when every mask is all ones. */
    private static long[][] keys(Tensor attention_mask, int b, int n) {
        if (attention_mask.rank() != 2 || attention_mask.dim(0) != b || attention_mask.dim(1) != n)
            throw new IllegalArgumentException("XLM-R: attention_mask must be [" + b + ", " + n + "] like input_ids, got " + attention_mask);
        long[] m = attention_mask.contiguous().toLongArray();
        long[][] keys = new long[b][];
        boolean all = true;
        for (int i = 0; i < b; i++) {
            int row = i * n;
            keys[i] = IntStream.range(0, n).filter(j -> m[row + j] != 0).asLongStream().toArray();
            all &= keys[i].length == n;
        }
        return all ? null : keys;
    }
}
