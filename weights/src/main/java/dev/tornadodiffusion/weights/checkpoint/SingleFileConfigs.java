package dev.tornadodiffusion.weights.checkpoint;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tornadodiffusion.weights.StateDict;
import dev.tornadodiffusion.weights.WeightFormatException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The diffusers / transformers config.json a single-file component needs, as diffusers' single-file loader builds it:
 * everything the weights' shapes and names tell (channels, levels, layers, attention placement, cross-attention
 * width, projections, text-time conditioning) is read from the keys; what they cannot tell comes from the original
 * configs of the architecture (v1-inference.yaml: 8 heads; SD 2.x / SDXL yaml: 64-channel heads; 32 GroupNorm groups;
 * the VAE scaling factor; CLIP's legacy token ids). A checkpoint of unusual design needs its real config instead.
 */
final class SingleFileConfigs {
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

    private SingleFileConfigs() {}

    static ObjectNode of(String component, StateDict w, Architecture arch) {
        return switch (component) {
            case "unet" -> unet(w, arch);
            case "vae" -> vae(w, arch);
            case "text_encoder" -> textEncoder(w, arch == Architecture.SD2);
            case "text_encoder_2" -> textEncoder(w, true);
            default -> throw new IllegalArgumentException("no config for component '" + component + "'");
        };
    }

    static ObjectNode unet(StateDict w, Architecture arch) {
        UNetLayout.Structure s = UNetLayout.fromDiffusers(w.keys(), w.source());
        int levels = s.levels();
        ObjectNode c = header("UNet2DConditionModel");
        c.put("sample_size", arch.sampleSize);
        c.put("in_channels", dim(w, "conv_in.weight", 1));
        c.put("out_channels", dim(w, "conv_out.weight", 0));
        ArrayNode down = c.putArray("down_block_types"), up = c.putArray("up_block_types");
        ArrayNode channels = c.putArray("block_out_channels"), heads = JSON.arrayNode();
        List<Integer> depth = new ArrayList<>();
        for (int i = 0; i < levels; i++) {
            String attention = "down_blocks." + i + ".attentions.0.";
            boolean hasAttention = w.keys().stream().anyMatch(k -> k.startsWith(attention));
            down.add(hasAttention ? "CrossAttnDownBlock2D" : "DownBlock2D");
            up.add(s.upAttention()[i] ? "CrossAttnUpBlock2D" : "UpBlock2D");
            int ch = dim(w, "down_blocks." + i + ".resnets.0.conv1.weight", 0);
            channels.add(ch);
            heads.add(Math.max(1, ch / 64));
            depth.add(hasAttention ? count(w, attention + "transformer_blocks.") : 1);
        }
        c.put("layers_per_block", s.layersPerBlock());
        if (depth.stream().distinct().count() == 1) c.put("transformer_layers_per_block", depth.getFirst());
        else depth.forEach(c.putArray("transformer_layers_per_block")::add);
        // v1-inference.yaml fixes 8 heads; the SD 2.x and SDXL configs fix 64 channels per head
        if (arch == Architecture.SD1) c.put("attention_head_dim", 8);
        else c.set("attention_head_dim", heads);
        String crossKey = first(w, ".attn2.to_k.weight"), projIn = first(w, ".proj_in.weight");
        if (crossKey != null) c.put("cross_attention_dim", dim(w, crossKey, 1));
        c.put("use_linear_projection", projIn != null && w.get(projIn).rank() == 2);
        if (w.contains("add_embedding.linear_1.weight")) {
            c.put("addition_embed_type", "text_time");
            c.put("addition_time_embed_dim", 256);
            c.put("projection_class_embeddings_input_dim", dim(w, "add_embedding.linear_1.weight", 1));
        }
        if (w.contains("time_embedding.cond_proj.weight")) c.put("time_cond_proj_dim", dim(w, "time_embedding.cond_proj.weight", 1));
        c.put("upcast_attention", arch == Architecture.SD2);
        c.put("norm_num_groups", 32);
        c.put("norm_eps", 1e-5);
        c.put("act_fn", "silu");
        c.put("flip_sin_to_cos", true);
        c.put("freq_shift", 0);
        return c;
    }

    static ObjectNode vae(StateDict w, Architecture arch) {
        VaeLayout.Structure s = VaeLayout.fromDiffusers(w.keys(), w.source());
        ObjectNode c = header("AutoencoderKL");
        c.put("sample_size", arch.sampleSize * 8);
        c.put("in_channels", dim(w, "encoder.conv_in.weight", 1));
        c.put("out_channels", dim(w, "decoder.conv_out.weight", 0));
        c.put("latent_channels", dim(w, "decoder.conv_in.weight", 1));
        ArrayNode down = c.putArray("down_block_types"), up = c.putArray("up_block_types"), channels = c.putArray("block_out_channels");
        for (int i = 0; i < s.encoderLevels(); i++) {
            down.add("DownEncoderBlock2D");
            up.add("UpDecoderBlock2D");
            channels.add(dim(w, "encoder.down_blocks." + i + ".resnets.0.conv1.weight", 0));
        }
        c.put("layers_per_block", s.encoderLayers());
        c.put("act_fn", "silu");
        c.put("norm_num_groups", 32);
        c.put("scaling_factor", arch.scalingFactor);
        c.put("force_upcast", true);
        if (!w.contains("quant_conv.weight")) c.put("use_quant_conv", false);
        if (!w.contains("post_quant_conv.weight")) c.put("use_post_quant_conv", false);
        return c;
    }

    /** A transformers CLIPTextConfig; OpenCLIP towers use exact GELU, OpenAI's quick GELU; heads are 64 channels wide in both. */
    static ObjectNode textEncoder(StateDict w, boolean openClip) {
        boolean projection = w.contains("text_projection.weight");
        ObjectNode c = JSON.objectNode();
        c.putArray("architectures").add(projection ? "CLIPTextModelWithProjection" : "CLIPTextModel");
        c.put("model_type", "clip_text_model");
        int hidden = dim(w, "text_model.embeddings.token_embedding.weight", 1);
        c.put("vocab_size", dim(w, "text_model.embeddings.token_embedding.weight", 0));
        c.put("hidden_size", hidden);
        c.put("intermediate_size", dim(w, "text_model.encoder.layers.0.mlp.fc1.weight", 0));
        c.put("num_hidden_layers", ClipLayout.transformersLayers(w.keys()));
        c.put("num_attention_heads", Math.max(1, hidden / 64));
        c.put("max_position_embeddings", dim(w, "text_model.embeddings.position_embedding.weight", 0));
        c.put("projection_dim", projection ? dim(w, "text_projection.weight", 0) : hidden);
        c.put("hidden_act", openClip ? "gelu" : "quick_gelu");
        c.put("layer_norm_eps", 1e-5);
        c.put("attention_dropout", 0.0);
        c.put("dropout", 0.0);
        c.put("initializer_factor", 1.0);
        c.put("initializer_range", 0.02);
        c.put("bos_token_id", 0);
        c.put("eos_token_id", 2);
        c.put("pad_token_id", 1);
        return c;
    }

    private static ObjectNode header(String className) {
        ObjectNode c = JSON.objectNode();
        c.put("_class_name", className);
        c.put("_diffusers_version", "0.27.2");
        return c;
    }

    private static int dim(StateDict w, String key, int d) {
        if (!w.contains(key)) throw new WeightFormatException(w.source() + ": missing key " + WeightFormatException.quote(key) + " (needed to build the config)");
        int[] shape = w.get(key).shape();
        if (d >= shape.length)
            throw new WeightFormatException(w.source() + ": key " + WeightFormatException.quote(key) + " has shape " + Arrays.toString(shape) + ", expected " + (d + 1) + "+ dimensions");
        return shape[d];
    }

    /** How many numbered children {@code prefix + N} exist. */
    private static int count(StateDict w, String prefix) {
        int n = 0;
        for (String k : w.keys())
            if (k.startsWith(prefix)) {
                String rest = k.substring(prefix.length());
                int dot = rest.indexOf('.');
                if (dot > 0 && rest.substring(0, dot).chars().allMatch(Character::isDigit)) n = Math.max(n, Integer.parseInt(rest.substring(0, dot)) + 1);
            }
        return n;
    }

    /** The first key ending in {@code suffix}, in key order, or null. */
    private static String first(StateDict w, String suffix) {
        for (String k : w.keys()) if (k.endsWith(suffix)) return k;
        return null;
    }
}
