package dev.tornadodiffusion.nn.clip;

import dev.tornadodiffusion.weights.JsonConfig;
import dev.tornadodiffusion.nn.LayerNorm;
import dev.tornadodiffusion.nn.Linear;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.ModelFiles;
import dev.tornadodiffusion.weights.StateDict;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * transformers' {@code CLIPTextModel} and, with a projection, {@code CLIPTextModelWithProjection}: token +
 * position embeddings, causal pre-LN transformer layers, final LayerNorm, the pooled state at the end-of-text
 * token and (with projection) {@code text_embeds = text_projection(pooled)}. Keys are the HF ones under
 * {@code text_model.} plus {@code text_projection.weight}. Only the causal mask is applied (as the SD pipelines
 * call it), so states after the end-of-text token depend on the padding id.
 */
public final class ClipTextModel implements AutoCloseable {
    public final ClipTextConfig config;
    public final Tensor token_embedding, position_embedding;
    public final List<ClipEncoderLayer> layers = new ArrayList<>();
    public final LayerNorm final_layer_norm;
    /** Null for a plain CLIPTextModel. */
    public final Linear text_projection;
    private final Backend be;
    private final StateDict owned;

    /**
     * Builds the model over weights the caller keeps open (strictness is the caller's {@link Params#checkAllUsed()}).
     *
     * @param withProjection true for CLIPTextModelWithProjection; a plain CLIPTextModel ignores a
     *                       {@code text_projection.weight} in the file (SD1.x files may hold one)
     */
    public ClipTextModel(ClipTextConfig config, Params p, boolean withProjection) {
        this(config, p, withProjection, null);
    }

    private ClipTextModel(ClipTextConfig config, Params p, boolean withProjection, StateDict owned) {
        this.config = config;
        this.owned = owned;
        int d = config.hidden_size();
        Params tm = p.child("text_model"), emb = tm.child("embeddings");
        this.token_embedding = emb.child("token_embedding").get("weight", config.vocab_size(), d);
        this.position_embedding = emb.child("position_embedding").get("weight", config.max_position_embeddings(), d);
        emb.ignore("position_ids"); // a buffer (0..n-1) older checkpoints carry
        for (int i = 0; i < config.num_hidden_layers(); i++)
            layers.add(new ClipEncoderLayer(tm.child("encoder").child("layers").child(i), config));
        this.final_layer_norm = new LayerNorm(tm.child("final_layer_norm"), d, config.layer_norm_eps());
        if (withProjection) this.text_projection = new Linear(p.child("text_projection"), d, config.projection_dim(), false);
        else {
            this.text_projection = null;
            p.ignore("text_projection.weight");
        }
        this.be = p.backend();
    }

    /**
     * A transformers {@code text_encoder/} folder: config.json and the weights {@link ModelFiles} finds (optionally of a
     * variant), mapped until {@link #close()}. With projection when config.json's {@code architectures} names
     * CLIPTextModelWithProjection (SDXL's text_encoder_2), as the pipelines load it. Strict: every key must be used.
     */
    public static ClipTextModel load(Path folder, Backend be, String variant) throws IOException {
        JsonConfig json = JsonConfig.read(folder.resolve("config.json"));
        boolean withProjection = Arrays.asList(json.getStringArray("architectures", new String[0])).contains("CLIPTextModelWithProjection");
        ClipTextConfig config = ClipTextConfig.from(json);
        return StateDict.loadOrClose(ModelFiles.open(folder, variant), w -> load(config, w, be, withProjection));
    }

    /** The model over {@code weights} (strict: every key used); closing the model closes them. */
    public static ClipTextModel load(ClipTextConfig config, StateDict weights, Backend be, boolean withProjection) {
        return Params.strict(weights, be, p -> new ClipTextModel(config, p, withProjection, weights));
    }

    /** Releases the weights {@link #load} opened. */
    @Override
    public void close() {
        if (owned != null) owned.close();
    }

    /**
     * @param last_hidden_state [B, N, D] after final_layer_norm
     * @param hidden_states     N_layers + 1 tensors [B, N, D]: the embeddings, then each layer's output (no final LayerNorm;
     *                          SDXL uses index -2)
     * @param pooler_output     [B, D] last_hidden_state at the end-of-text position
     * @param text_embeds       [B, projection_dim], or null without projection
     */
    public record Output(Tensor last_hidden_state, List<Tensor> hidden_states, Tensor pooler_output, Tensor text_embeds) {
        /** {@code hidden_states[i]}, negative i counting from the end as in Python. */
        public Tensor hiddenState(int i) {
            return hidden_states.get(i < 0 ? hidden_states.size() + i : i);
        }
    }

    // One device call each (Backend.run): a recording backend replays one plan per method and input shape.

    /** The prompt states SD 1.x / 2.x condition on: last_hidden_state, or with clip skip k final_layer_norm(hidden_states[-(k + 1)]). */
    public Tensor promptStates(Tensor input_ids, int clipSkip) {
        return be.run(this, x -> {
            Output out = forward(x[0]);
            return clipSkip == 0 ? out.last_hidden_state() : final_layer_norm.forward(out.hiddenState(-(clipSkip + 1)));
        }, input_ids);
    }

    /** {@code hidden_states[layer]} (negative counts from the end), without the final LayerNorm: SDXL's first encoder. */
    public Tensor hiddenState(Tensor input_ids, int layer) {
        return be.run(this, x -> forward(x[0]).hiddenState(layer), input_ids);
    }

    /** {@code [hidden_states[layer], text_embeds]}: SDXL's second encoder, whose projection is the pooled embedding. */
    public Tensor[] hiddenStateAndTextEmbeds(Tensor input_ids, int layer) {
        return be.runAll(this, x -> {
            Output o = forward(x[0]);
            return new Tensor[]{o.hiddenState(layer), o.text_embeds()};
        }, input_ids);
    }

    /** The projected end-of-text state (CLIP's {@code encode_text}, TLD's conditioning). */
    public Tensor textEmbeds(Tensor input_ids) {
        return be.run(this, x -> forward(x[0]).text_embeds(), input_ids);
    }

    /** input_ids: integer tensor [B, N], N <= max_position_embeddings. */
    public Output forward(Tensor input_ids) {
        if (input_ids.rank() != 2 || input_ids.dtype().floating)
            throw new IllegalArgumentException("CLIP text model: input_ids must be an integer tensor [batch, tokens], got " + input_ids);
        int b = input_ids.dim(0), n = input_ids.dim(1);
        if (n > config.max_position_embeddings())
            throw new IllegalArgumentException("CLIP text model: " + n + " tokens exceed max_position_embeddings " + config.max_position_embeddings());
        long[] ids = input_ids.contiguous().toLongArray();
        Tensor x = be.add(embed(input_ids, ids), position_embedding.narrow(0, 0, n));
        List<Tensor> hidden = new ArrayList<>();
        hidden.add(x);
        for (ClipEncoderLayer layer : layers) {
            x = layer.forward(x);
            hidden.add(x);
        }
        Tensor last = final_layer_norm.forward(x);
        long[] eos = new long[b];
        for (int i = 0; i < b; i++) eos[i] = (long) i * n + eosPosition(ids, i * n, n);
        Tensor pooled = be.embedding(last.reshape(b * n, config.hidden_size()), Tensor.ofLongs(eos, b));
        return new Output(last, List.copyOf(hidden), pooled, text_projection == null ? null : text_projection.forward(pooled));
    }

    /** token_embedding[input_ids] as [B, N, D]. */
    private Tensor embed(Tensor input_ids, long[] ids) {
        for (long id : ids)
            if (id < 0 || id >= config.vocab_size())
                throw new IllegalArgumentException("CLIP text model: token id " + id + " is outside the vocabulary (vocab_size " + config.vocab_size() + ")");
        return be.embedding(token_embedding, input_ids);
    }

    /**
     * Where HF pools: with the legacy eos_token_id 2 the argmax of the ids (the first end-of-text token when ids are
     * the standard vocabulary), else the first position holding eos_token_id (0 when there is none, as torch's argmax).
     */
    private int eosPosition(long[] ids, int from, int n) {
        if (config.eos_token_id() == 2) {
            int best = 0;
            for (int j = 1; j < n; j++) if ((int) ids[from + j] > (int) ids[from + best]) best = j;
            return best;
        }
        for (int j = 0; j < n; j++) if (ids[from + j] == config.eos_token_id()) return j;
        return 0;
    }
}
