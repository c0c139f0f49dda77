package dev.tornadodiffusion.nn.unet;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.weights.WeightFormatException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * The fields of a diffusers {@code UNet2DConditionModel} config.json (v0.27.2) that the SD 1.x/2.x/SDXL family
 * uses, with diffusers' defaults for absent fields. Fields that may be an int or a per-block list are stored
 * per down block (index i = down_blocks.i), as the constructor expands them.
 * <p>
 * Values this implementation does not build (class embeddings, encoder_hid_proj, other block types, ...) are
 * rejected by {@link #fromJson} with a message naming the field. Fields that only configure block types we do not
 * build (resnet_skip_time_act, resnet_out_scale_factor, cross_attention_norm, mid_block_only_cross_attention,
 * addition_embed_type_num_heads) and dropout are ignored, as diffusers ignores them for these blocks.
 *
 * @param attention_head_dim             per down block; in v0.27.2 this is the NUMBER OF HEADS (num_attention_heads
 *                                       must be null and defaults to it), the head size is channels / heads
 * @param transformer_layers_per_block   per down block, the depth of the Transformer2DModel after each resnet
 * @param reverse_transformer_layers_per_block per up block and layer, or null: then the reversed down-block depths
 * @param upcast_attention               softmax in float32: a no-op here, attention always runs in float32
 */
public record UNet2DConditionConfig(
        Integer sample_size,
        int in_channels,
        int out_channels,
        boolean center_input_sample,
        boolean flip_sin_to_cos,
        float freq_shift,
        List<String> down_block_types,
        String mid_block_type,
        List<String> up_block_types,
        int[] block_out_channels,
        int[] layers_per_block,
        int downsample_padding,
        float mid_block_scale_factor,
        int norm_num_groups,
        float norm_eps,
        int[] cross_attention_dim,
        int[][] transformer_layers_per_block,
        int[][] reverse_transformer_layers_per_block,
        int[] attention_head_dim,
        boolean use_linear_projection,
        boolean upcast_attention,
        Integer time_embedding_dim,
        Integer time_cond_proj_dim,
        String addition_embed_type,
        Integer addition_time_embed_dim,
        Integer projection_class_embeddings_input_dim,
        int conv_in_kernel,
        int conv_out_kernel) {

    public static final Set<String> DOWN_BLOCK_TYPES = Set.of("CrossAttnDownBlock2D", "DownBlock2D");
    public static final Set<String> UP_BLOCK_TYPES = Set.of("CrossAttnUpBlock2D", "UpBlock2D");

    /** Heads of down block i's attention (diffusers: {@code num_attention_heads or attention_head_dim}). */
    public int num_attention_heads(int block) { return attention_head_dim[block]; }

    /** Width of the time embedding the resnets receive. */
    public int time_embed_dim() { return time_embedding_dim != null ? time_embedding_dim : block_out_channels[0] * 4; }

    /** Depth of each layer's Transformer2DModel in up block i (num_layers = layers_per_block reversed + 1). */
    public int[] up_transformer_layers(int upBlock) {
        if (reverse_transformer_layers_per_block != null) return reverse_transformer_layers_per_block[upBlock];
        int down = block_out_channels.length - 1 - upBlock;
        int[] layers = new int[layers_per_block[down] + 1];
        Arrays.fill(layers, transformer_layers_per_block[down][0]);
        return layers;
    }

    /** Parses a config.json object; {@code source} names the file in errors. */
    public static UNet2DConditionConfig fromJson(JsonNode json, String source) {
        Reader r = new Reader(json, source);
        r.require("_class_name", Set.of("UNet2DConditionModel"), null);
        r.require("time_embedding_type", Set.of("positional"), "positional");
        r.require("act_fn", Set.of("silu", "swish"), "silu");
        r.require("resnet_time_scale_shift", Set.of("default"), "default");
        r.require("attention_type", Set.of("default"), "default");
        r.require("mid_block_type", Set.of("UNetMidBlock2DCrossAttn"), "UNetMidBlock2DCrossAttn");
        r.require("addition_embed_type", Set.of("text_time"), null);
        for (String unset : List.of("num_attention_heads", "class_embed_type", "num_class_embeds", "encoder_hid_dim",
                "encoder_hid_dim_type", "time_embedding_act_fn", "timestep_post_act"))
            r.require(unset, Set.of(), null);
        r.requireFalse("dual_cross_attention");
        r.requireFalse("only_cross_attention");

        List<String> down = r.strings("down_block_types", List.of("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"));
        List<String> up = r.strings("up_block_types", List.of("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"));
        for (String t : down) if (!DOWN_BLOCK_TYPES.contains(t)) throw r.unsupported("down_block_types", t);
        for (String t : up) if (!UP_BLOCK_TYPES.contains(t)) throw r.unsupported("up_block_types", t);
        int n = down.size();
        if (up.size() != n) throw r.bad("up_block_types", "has " + up.size() + " entries, down_block_types has " + n);
        int[] channels = r.ints("block_out_channels", new int[] {320, 640, 1280, 1280});
        if (channels.length != n) throw r.bad("block_out_channels", "has " + channels.length + " entries, down_block_types has " + n);
        int[] layers = r.perBlock("layers_per_block", 2, n);
        int[] heads = r.perBlock("attention_head_dim", 8, n);
        int[] cross = r.perBlock("cross_attention_dim", 1280, n);
        int groups = r.integer("norm_num_groups", 32);
        if (groups < 1) throw r.unsupported("norm_num_groups", groups);
        for (int i = 0; i < n; i++) {
            // head size is channels / heads rounded down, as in diffusers; at least one head of size >= 1
            if (heads[i] < 1 || heads[i] > channels[i]) throw r.bad("attention_head_dim", "gives " + heads[i] + " heads for block_out_channels " + channels[i]);
            if (channels[i] % groups != 0) throw r.bad("norm_num_groups", groups + " groups do not divide block_out_channels " + channels[i]);
        }
        JsonNode depthNode = r.valued("transformer_layers_per_block");
        int[][] depth = r.transformerLayers("transformer_layers_per_block", layers);
        int[] upLayers = new int[n];
        for (int i = 0; i < n; i++) upLayers[i] = layers[n - 1 - i] + 1;
        int[][] reverseDepth = null;
        if (r.node("reverse_transformer_layers_per_block") != null)
            reverseDepth = r.transformerLayers("reverse_transformer_layers_per_block", upLayers);
        else if (depthNode != null && depthNode.isArray())
            for (JsonNode e : depthNode)
                if (e.isArray()) throw r.bad("transformer_layers_per_block", "has per-layer lists, which need reverse_transformer_layers_per_block (as in diffusers)");

        String addition = r.string("addition_embed_type", null);
        Integer addTimeDim = r.optionalInteger("addition_time_embed_dim");
        Integer projDim = r.optionalInteger("projection_class_embeddings_input_dim");
        if (addition != null && (addTimeDim == null || projDim == null))
            throw r.bad("addition_embed_type", "text_time needs addition_time_embed_dim and projection_class_embeddings_input_dim");
        int convIn = r.integer("conv_in_kernel", 3), convOut = r.integer("conv_out_kernel", 3);
        if (convIn % 2 == 0) throw r.unsupported("conv_in_kernel", convIn);
        if (convOut % 2 == 0) throw r.unsupported("conv_out_kernel", convOut);

        return new UNet2DConditionConfig(
                r.optionalInteger("sample_size"),
                r.integer("in_channels", 4),
                r.integer("out_channels", 4),
                r.bool("center_input_sample", false),
                r.bool("flip_sin_to_cos", true),
                r.number("freq_shift", 0),
                down, "UNetMidBlock2DCrossAttn", up,
                channels, layers,
                r.integer("downsample_padding", 1),
                r.number("mid_block_scale_factor", 1),
                groups,
                r.number("norm_eps", 1e-5f),
                cross, depth, reverseDepth, heads,
                r.bool("use_linear_projection", false),
                r.node("upcast_attention") != null && r.bool("upcast_attention", false),   // SDXL base has null: falsy in diffusers
                r.optionalInteger("time_embedding_dim"),
                r.optionalInteger("time_cond_proj_dim"),
                addition, addTimeDim, projDim, convIn, convOut);
    }

    /** Typed access to config.json fields with defaults; every error names the file and the field. */
    private record Reader(JsonNode json, String source) {
        JsonNode node(String field) {
            JsonNode v = json.get(field);
            return v == null || v.isNull() ? null : v;
        }

        /** The field's value, null when absent; an explicit null is refused where diffusers would not use the default. */
        JsonNode valued(String field) {
            JsonNode v = json.get(field);
            if (v != null && v.isNull()) throw unsupported(field, "null");
            return v;
        }

        WeightFormatException bad(String field, String problem) {
            return new WeightFormatException(source + ": field '" + field + "' " + problem);
        }

        WeightFormatException unsupported(String field, Object value) {
            return new WeightFormatException(source + ": field '" + field + "' = " + value + " is not supported by UNet2DConditionModel here");
        }

        /** The field must be absent/null (when allowed is empty) or one of {@code allowed}. */
        void require(String field, Set<String> allowed, String defaultValue) {
            String v = string(field, defaultValue);
            if (v != null && !allowed.contains(v)) throw unsupported(field, v);
        }

        void requireFalse(String field) {
            JsonNode v = node(field);
            if (v == null) return;
            if (v.isArray()) { for (JsonNode e : v) if (!e.isBoolean() || e.booleanValue()) throw unsupported(field, v); }
            else if (!v.isBoolean() || v.booleanValue()) throw unsupported(field, v);
        }

        String string(String field, String defaultValue) {
            JsonNode v = defaultValue == null ? node(field) : valued(field);
            if (v == null) return defaultValue;
            if (!v.isTextual()) throw bad(field, "should be a string, found " + v);
            return v.textValue();
        }

        boolean bool(String field, boolean defaultValue) {
            JsonNode v = valued(field);
            if (v == null) return defaultValue;
            if (!v.isBoolean()) throw bad(field, "should be true or false, found " + v);
            return v.booleanValue();
        }

        float number(String field, float defaultValue) {
            JsonNode v = valued(field);
            if (v == null) return defaultValue;
            if (!v.isNumber()) throw bad(field, "should be a number, found " + v);
            return v.floatValue();
        }

        int integer(String field, int defaultValue) {
            JsonNode v = valued(field);
            return v == null ? defaultValue : count(field, v);
        }

        Integer optionalInteger(String field) {
            JsonNode v = node(field);
            if (v == null) return null;
            return count(field, v);
        }

        int count(String field, JsonNode v) {
            if (!v.canConvertToExactIntegral() || !v.canConvertToInt() || v.intValue() < 0)
                throw bad(field, "should be a non-negative integer, found " + v);
            return v.intValue();
        }

        List<String> strings(String field, List<String> defaultValue) {
            JsonNode v = valued(field);
            if (v == null) return defaultValue;
            if (!v.isArray() || v.isEmpty()) throw bad(field, "should be a non-empty list of strings, found " + v);
            List<String> out = new ArrayList<>();
            for (JsonNode e : v) {
                if (!e.isTextual()) throw bad(field, "should be a list of strings, found " + v);
                out.add(e.textValue());
            }
            return List.copyOf(out);
        }

        int[] ints(String field, int[] defaultValue) {
            JsonNode v = valued(field);
            if (v == null) return defaultValue;
            if (!v.isArray() || v.isEmpty()) throw bad(field, "should be a non-empty list of integers, found " + v);
            int[] out = new int[v.size()];
            for (int i = 0; i < out.length; i++) out[i] = count(field, v.get(i));
            return out;
        }

        /** An int for every block or a list with one entry per block. */
        int[] perBlock(String field, int defaultValue, int blocks) {
            JsonNode v = valued(field);
            if (v == null || v.isNumber()) {
                int[] out = new int[blocks];
                Arrays.fill(out, v == null ? defaultValue : count(field, v));
                return out;
            }
            int[] out = ints(field, null);
            if (out.length != blocks) throw bad(field, "has " + out.length + " entries, down_block_types has " + blocks);
            return out;
        }

        /** An int, or a list per block whose entries are an int or a list per layer; expanded to [block][layer]. */
        int[][] transformerLayers(String field, int[] layersPerBlock) {
            JsonNode v = node(field);
            int blocks = layersPerBlock.length;
            if (v != null && v.isArray() && v.size() != blocks) throw bad(field, "has " + v.size() + " entries, down_block_types has " + blocks);
            int[][] out = new int[blocks][];
            for (int b = 0; b < blocks; b++) {
                JsonNode e = v == null ? null : v.isArray() ? v.get(b) : v;
                out[b] = new int[layersPerBlock[b]];
                if (e != null && e.isArray()) {
                    if (e.size() != layersPerBlock[b]) throw bad(field, "block " + b + " lists " + e.size() + " layers, the block has " + layersPerBlock[b]);
                    for (int l = 0; l < out[b].length; l++) out[b][l] = count(field, e.get(l));
                } else {
                    Arrays.fill(out[b], e == null ? 1 : count(field, e));
                }
            }
            return out;
        }
    }
}
