package dev.tornadodiffusion.weights.checkpoint;

import dev.tornadodiffusion.weights.checkpoint.KeyTable.Layout;

import java.util.Collection;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Text encoders in single-file checkpoints against transformers' CLIPTextModel names ({@code text_model.*},
 * {@code text_projection.weight}).
 * <ul>
 *   <li>OpenAI CLIP ViT-L (SD 1.x {@code cond_stage_model.transformer.}, SDXL {@code conditioner.embedders.0.transformer.})
 *       is stored with the transformers names already; old files lack the {@code text_model.} level.</li>
 *   <li>OpenCLIP (SD 2.x {@code cond_stage_model.model.}, SDXL {@code conditioner.embedders.1.model.}) keeps open_clip's
 *       names: q, k, v packed in {@code attn.in_proj_weight} [3W, W], {@code text_projection} [W, P] used as {@code x @ P}
 *       (the transpose of a Linear weight), {@code positional_embedding} without {@code .weight}.</li>
 * </ul>
 */
final class ClipLayout {
    private static final Pattern RESBLOCK = Pattern.compile("transformer\\.resblocks\\.(\\d+)\\..*");
    private static final Pattern LAYER = Pattern.compile("text_model\\.encoder\\.layers\\.(\\d+)\\..*");

    private ClipLayout() {}

    /** OpenAI CLIP as transformers stores it: the same names, minus the {@code position_ids} buffer. */
    static KeyTable transformers(Collection<String> keys) {
        boolean legacy = !keys.isEmpty() && keys.stream().noneMatch(k -> k.startsWith("text_model."));
        KeyTable t = new KeyTable();
        if (legacy) {
            for (String m : new String[]{"embeddings", "encoder", "final_layer_norm"}) t.module("text_model." + m, m);
            t.ignore("embeddings.position_ids");
        } else {
            t.module("text_model", "text_model").module("text_projection", "text_projection");
            t.ignore("text_model.embeddings.position_ids");
        }
        return t;
    }

    /** Number of transformer layers of an OpenCLIP text tower, from its keys. */
    static int openClipLayers(Collection<String> keys) {
        return maxIndex(keys, RESBLOCK) + 1;
    }

    /** Number of layers of a transformers CLIP text model, from its keys. */
    static int transformersLayers(Collection<String> keys) {
        return maxIndex(keys, LAYER) + 1;
    }

    private static int maxIndex(Collection<String> keys, Pattern p) {
        int max = -1;
        for (String k : keys) {
            Matcher m = p.matcher(k);
            if (m.matches()) max = Math.max(max, Integer.parseInt(m.group(1)));
        }
        return max;
    }

    /**
     * OpenCLIP text tower with {@code layers} layers mapped to transformers names. SD 2.x uses the penultimate layer's
     * output (then ln_final) and no projection: its diffusers text encoder has one layer less and no text_projection, so
     * {@code penultimate} drops the last layer and the projection, as diffusers' converter does. (A file written back
     * from diffusers has neither, as diffusers' script writes it: then nothing is dropped.)
     */
    static KeyTable openClip(int layers, boolean penultimate) {
        KeyTable t = new KeyTable()
                .module("text_model.embeddings.token_embedding", "token_embedding")
                .tensor("text_model.embeddings.position_embedding.weight", "positional_embedding", Layout.SAME)
                .module("text_model.final_layer_norm", "ln_final")
                .ignore("logit_scale");
        int kept = penultimate ? layers - 1 : layers;
        if (penultimate) t.ignore("transformer.resblocks." + (layers - 1)).ignore("text_projection");
        else t.tensor("text_projection.weight", "text_projection", Layout.TRANSPOSED);
        for (int i = 0; i < kept; i++) {
            String hf = "text_model.encoder.layers." + i, oc = "transformer.resblocks." + i;
            t.module(hf + ".layer_norm1", oc + ".ln_1").module(hf + ".layer_norm2", oc + ".ln_2")
                    .module(hf + ".mlp.fc1", oc + ".mlp.c_fc").module(hf + ".mlp.fc2", oc + ".mlp.c_proj")
                    .module(hf + ".self_attn.out_proj", oc + ".attn.out_proj");
            Layout[] packed = {Layout.PACKED_Q, Layout.PACKED_K, Layout.PACKED_V};
            String[] names = {"q_proj", "k_proj", "v_proj"};
            for (int p = 0; p < 3; p++) {
                t.tensor(hf + ".self_attn." + names[p] + ".weight", oc + ".attn.in_proj_weight", packed[p]);
                t.tensor(hf + ".self_attn." + names[p] + ".bias", oc + ".attn.in_proj_bias", packed[p]);
            }
        }
        return t;
    }
}
