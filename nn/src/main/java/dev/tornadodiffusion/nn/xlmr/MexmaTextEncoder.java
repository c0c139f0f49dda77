package dev.tornadodiffusion.nn.xlmr;

import dev.tornadodiffusion.weights.JsonConfig;
import dev.tornadodiffusion.nn.Linear;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.ModelFiles;
import dev.tornadodiffusion.weights.StateDict;
import dev.tornadodiffusion.weights.WeightFormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The mexma-siglip text embedding sdxs conditions on ({@code encode_texts(input_ids, attention_mask)}): the MEXMA
 * text tower (an {@link XlmRobertaModel}) run on the ids, its CLS state {@code last_hidden_state[:, 0]}, then the
 * checkpoint's own linear projection to the conditioning width when the file has one.
 *
 * <p>The remote modeling code of mexma-siglip is not public in any source we could read, so this is inferred:
 * <ul>
 *   <li>the tower is found by its key {@code <prefix>embeddings.word_embeddings.weight} (any prefix:
 *       {@code text_model.}, {@code roberta.}, none); only keys under that prefix and the projection are read, from
 *       the memory-mapped file (a combined text + vision checkpoint's vision tensors are never touched);</li>
 *   <li>its config is config.json's {@code text_config}, else config.json itself when it is an XLM-R config, else
 *       read off the tensor shapes with XLM-R's conventions (64-dim heads, LayerNorm eps 1e-5, pad id 1);</li>
 *   <li>the projection is a 2-D tensor named {@code text_projector}, {@code text_projection} or {@code text_proj}
 *       ({@code .weight}, optional {@code .bias}, any prefix) of shape [width, hidden] (nn.Linear) or, when
 *       width != hidden, [hidden, width] (a matrix applied as {@code x @ P}); none is needed when width = hidden;</li>
 *   <li>no L2 normalization (encode_texts' {@code normalize} is assumed to default to false).</li>
 * </ul>
 * The CLS state does not depend on padding (masked keys get zero weight), so each prompt runs on its unpadded
 * tokens: equal to the padded run up to float rounding, and 512-token padding costs nothing.
 */
public final class MexmaTextEncoder implements AutoCloseable {
    /** The names a projection may carry (before {@code .weight}), in the order they are looked for. */
    public static final List<String> PROJECTION_NAMES = List.of("text_projector", "text_projection", "text_proj");
    private static final String TOWER_KEY = "embeddings.word_embeddings.weight";

    public final XlmRobertaModel model;
    /** Null when the CLS state is the conditioning itself. */
    public final Linear projection;
    public final int width;
    private final StateDict weights;
    private final Backend be;

    private MexmaTextEncoder(XlmRobertaModel model, Linear projection, int width, StateDict weights, Backend be) {
        this.model = model;
        this.projection = projection;
        this.width = width;
        this.weights = weights;
        this.be = be;
    }

    /**
     * @param folder a mexma-siglip download, an sdxs {@code text_encoder/}, or an XLM-R folder: config.json (optional)
     *               and the weights {@link ModelFiles} finds
     * @param width  the conditioning width the denoiser expects (its {@code cross_attention_dim})
     */
    public static MexmaTextEncoder load(Path folder, Backend be, int width) throws IOException {
        StateDict weights = ModelFiles.open(folder, null);
        try {
            String prefix = towerPrefix(weights);
            Path configFile = folder.resolve("config.json");
            XlmRobertaConfig config = Files.isRegularFile(configFile) ? config(JsonConfig.read(configFile)) : null;
            if (config == null) config = inferConfig(weights, prefix);
            Params root = new Params(weights, be);
            Params tower = prefix.isEmpty() ? root : root.child(prefix.substring(0, prefix.length() - 1));
            XlmRobertaModel model = new XlmRobertaModel(config, tower);
            tower.checkAllUsed();
            Linear projection = projection(root, weights, prefix, config.hidden_size(), width);
            return new MexmaTextEncoder(model, projection, width, weights, be);
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    /** The conditioning of each encoding: [B, width]. Rows are tokenizer outputs (ids and mask of equal length). */
    public Tensor encode(int[][] input_ids, int[][] attention_mask) {
        Tensor[] rows = new Tensor[input_ids.length];
        for (int i = 0; i < rows.length; i++) {
            int[] ids = input_ids[i], mask = attention_mask[i];
            if (ids.length != mask.length) throw new IllegalArgumentException("mexma text encoder: row " + i + " has " + ids.length + " ids but " + mask.length + " mask values");
            int len = 0;
            while (len < mask.length && mask[len] != 0) len++;
            boolean rightPadded = true;
            for (int j = len; j < mask.length; j++) rightPadded &= mask[j] == 0;
            long[] kept = new long[rightPadded ? len : ids.length];
            for (int j = 0; j < kept.length; j++) kept[j] = ids[j];
            Tensor maskTensor = null;
            if (!rightPadded) {
                long[] m = new long[mask.length];
                for (int j = 0; j < m.length; j++) m[j] = mask[j];
                maskTensor = Tensor.ofLongs(m, 1, m.length);
            }
            rows[i] = model.forward(Tensor.ofLongs(kept, 1, kept.length), maskTensor).cls();
        }
        Tensor cls = rows.length == 1 ? rows[0] : be.concat(0, rows);
        return projection == null ? cls : projection.forward(cls);
    }

    @Override
    public void close() {
        weights.close();
    }

    private static String towerPrefix(StateDict weights) {
        List<String> found = new ArrayList<>();
        for (String k : weights.keys()) if (k.equals(TOWER_KEY) || k.endsWith("." + TOWER_KEY)) found.add(k.substring(0, k.length() - TOWER_KEY.length()));
        if (found.size() != 1)
            throw new WeightFormatException(weights.source() + ": " + (found.isEmpty() ? "no XLM-R text tower (no key ending in '" + TOWER_KEY + "')"
                    : "several XLM-R text towers " + found));
        return found.getFirst();
    }

    /** The XLM-R config in config.json ({@code text_config} or the file itself), or null when it holds none. */
    private static XlmRobertaConfig config(JsonConfig json) {
        if (json.get("text_config") != null && json.get("text_config").isObject() && json.child("text_config").has("hidden_size"))
            return XlmRobertaConfig.from(json.child("text_config"));
        if (json.getString("model_type", "").startsWith("xlm-roberta")) return XlmRobertaConfig.from(json);
        return null;
    }

    /** XLM-R's config read off the tensor shapes, with XLM-R's conventions where shapes say nothing. */
    private static XlmRobertaConfig inferConfig(StateDict w, String prefix) {
        int[] words = w.get(prefix + TOWER_KEY).shape();
        int layers = 0;
        while (w.contains(prefix + "encoder.layer." + layers + ".attention.self.query.weight")) layers++;
        int hidden = words[1];
        if (hidden % 64 != 0) throw new WeightFormatException(w.source() + ": hidden size " + hidden + " is not a multiple of 64 and there is no config.json to give the heads");
        return new XlmRobertaConfig(words[0], hidden, layers, hidden / 64,
                w.get(prefix + "encoder.layer.0.intermediate.dense.weight").shape()[0],
                w.get(prefix + "embeddings.position_embeddings.weight").shape()[0],
                w.get(prefix + "embeddings.token_type_embeddings.weight").shape()[0], 1e-5f, 1);
    }

    private static Linear projection(Params root, StateDict w, String towerPrefix, int hidden, int width) {
        for (String name : PROJECTION_NAMES)
            for (String k : w.keys()) {
                if (!(k.equals(name + ".weight") || k.endsWith("." + name + ".weight")) || k.startsWith(towerPrefix) && !towerPrefix.isEmpty()) continue;
                int[] s = w.get(k).shape();
                String base = k.substring(0, k.length() - ".weight".length());
                Tensor bias = w.contains(base + ".bias") ? root.get(base + ".bias", width) : null;
                if (s.length == 2 && s[0] == width && s[1] == hidden) return new Linear(root.get(k, width, hidden), bias, root.backend());
                if (s.length == 2 && s[0] == hidden && s[1] == width && width != hidden)
                    return new Linear(root.get(k, hidden, width).transpose(0, 1), bias, root.backend());
            }
        if (width == hidden) return null;
        throw new WeightFormatException(w.source() + ": the text tower gives " + hidden + " channels but the denoiser needs " + width
                + ", and no projection of that shape is in the file (looked for " + String.join(", ", PROJECTION_NAMES) + " .weight of shape [" + width + ", " + hidden + "])");
    }
}
