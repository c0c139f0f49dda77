package dev.tornadodiffusion.nn.unet;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.weights.JsonConfig;
import dev.tornadodiffusion.weights.WeightFormatException;

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

    /**
     * Fields diffusers defaults to a value: an explicit null would reach the constructor, where it means nothing.
     * Not the two booleans diffusers only tests for truth: SDXL base's config.json has "upcast_attention": null.
     */
    private static final List<String> NOT_NULL = List.of("in_channels", "out_channels", "center_input_sample", "flip_sin_to_cos",
            "freq_shift", "down_block_types", "mid_block_type", "up_block_types", "block_out_channels", "layers_per_block",
            "downsample_padding", "mid_block_scale_factor", "act_fn", "norm_num_groups", "norm_eps", "cross_attention_dim",
            "transformer_layers_per_block", "attention_head_dim",
            "time_embedding_type", "resnet_time_scale_shift", "attention_type", "conv_in_kernel", "conv_out_kernel");

    /** Parses a config.json object; {@code source} names the file in errors. */
    public static UNet2DConditionConfig fromJson(JsonNode json, String source) {
        JsonConfig c = new JsonConfig(json, source);
        for (String f : NOT_NULL) if (c.isNull(f)) throw unsupported(c, f, "null");
        c.getChoice("_class_name", null, "UNet2DConditionModel");
        c.getChoice("time_embedding_type", "positional", "positional");
        c.getChoice("act_fn", "silu", "silu", "swish");
        c.getChoice("resnet_time_scale_shift", "default", "default");
        c.getChoice("attention_type", "default", "default");
        c.getChoice("mid_block_type", "UNetMidBlock2DCrossAttn", "UNetMidBlock2DCrossAttn");
        String addition = c.getChoice("addition_embed_type", null, "text_time");
        for (String unset : List.of("num_attention_heads", "class_embed_type", "num_class_embeds", "encoder_hid_dim",
                "encoder_hid_dim_type", "time_embedding_act_fn", "timestep_post_act"))
            if (c.has(unset)) throw unsupported(c, unset, c.get(unset));
        for (String f : List.of("dual_cross_attention", "only_cross_attention")) {
            JsonNode v = c.get(f);   // false, or a list of false per block
            if (v != null && (v.isArray() ? v.valueStream().anyMatch(e -> !e.isBoolean() || e.booleanValue()) : !v.isBoolean() || v.booleanValue()))
                throw unsupported(c, f, v);
        }

        List<String> down = List.of(c.getStringArray("down_block_types", new String[] {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"}));
        List<String> up = List.of(c.getStringArray("up_block_types", new String[] {"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"}));
        if (down.isEmpty()) throw c.invalid("down_block_types", "must not be empty");
        for (String t : down) if (!DOWN_BLOCK_TYPES.contains(t)) throw unsupported(c, "down_block_types", t);
        for (String t : up) if (!UP_BLOCK_TYPES.contains(t)) throw unsupported(c, "up_block_types", t);
        int n = down.size();
        if (up.size() != n) throw c.invalid("up_block_types", "has " + up.size() + " entries, down_block_types has " + n);
        int[] channels = counts(c, "block_out_channels", c.getIntArray("block_out_channels", new int[] {320, 640, 1280, 1280}));
        if (channels.length != n) throw c.invalid("block_out_channels", "has " + channels.length + " entries, down_block_types has " + n);
        int[] layers = counts(c, "layers_per_block", c.getPerBlock("layers_per_block", 2, n));
        int[] heads = c.getPerBlock("attention_head_dim", 8, n);
        int[] cross = counts(c, "cross_attention_dim", c.getPerBlock("cross_attention_dim", 1280, n));
        int groups = c.getInt("norm_num_groups", 32);
        if (groups < 1) throw unsupported(c, "norm_num_groups", groups);
        for (int i = 0; i < n; i++) {
            // head size is channels / heads rounded down, as in diffusers; at least one head of size >= 1
            if (heads[i] < 1 || heads[i] > channels[i]) throw c.invalid("attention_head_dim", "gives " + heads[i] + " heads for block_out_channels " + channels[i]);
            if (channels[i] % groups != 0) throw c.invalid("norm_num_groups", groups + " groups do not divide block_out_channels " + channels[i]);
        }
        int[][] depth = c.getPerBlockAndLayer("transformer_layers_per_block", 1, layers);
        for (int[] d : depth) counts(c, "transformer_layers_per_block", d);
        int[] upLayers = new int[n];
        for (int i = 0; i < n; i++) upLayers[i] = layers[n - 1 - i] + 1;
        int[][] reverseDepth = null;
        if (c.has("reverse_transformer_layers_per_block")) {
            reverseDepth = c.getPerBlockAndLayer("reverse_transformer_layers_per_block", 1, upLayers);
            for (int[] d : reverseDepth) counts(c, "reverse_transformer_layers_per_block", d);
        } else if (c.isList("transformer_layers_per_block") && c.get("transformer_layers_per_block").valueStream().anyMatch(JsonNode::isArray)) {
            throw c.invalid("transformer_layers_per_block", "has per-layer lists, which need reverse_transformer_layers_per_block (as in diffusers)");
        }

        Integer addTimeDim = optionalCount(c, "addition_time_embed_dim");
        Integer projDim = optionalCount(c, "projection_class_embeddings_input_dim");
        if (addition != null && (addTimeDim == null || projDim == null))
            throw c.invalid("addition_embed_type", "text_time needs addition_time_embed_dim and projection_class_embeddings_input_dim");
        int convIn = count(c, "conv_in_kernel", 3), convOut = count(c, "conv_out_kernel", 3);
        if (convIn % 2 == 0) throw unsupported(c, "conv_in_kernel", convIn);
        if (convOut % 2 == 0) throw unsupported(c, "conv_out_kernel", convOut);

        return new UNet2DConditionConfig(
                optionalCount(c, "sample_size"),
                count(c, "in_channels", 4),
                count(c, "out_channels", 4),
                c.getBoolean("center_input_sample", false),
                c.getBoolean("flip_sin_to_cos", true),
                (float) c.getDouble("freq_shift", 0),
                down, "UNetMidBlock2DCrossAttn", up,
                channels, layers,
                count(c, "downsample_padding", 1),
                (float) c.getDouble("mid_block_scale_factor", 1),
                groups,
                (float) c.getDouble("norm_eps", 1e-5f),
                cross, depth, reverseDepth, heads,
                c.getBoolean("use_linear_projection", false),
                c.getBoolean("upcast_attention", false),
                optionalCount(c, "time_embedding_dim"),
                optionalCount(c, "time_cond_proj_dim"),
                addition, addTimeDim, projDim, convIn, convOut);
    }

    private static WeightFormatException unsupported(JsonConfig c, String field, Object value) {
        return c.invalid(field, "= " + value + " is not supported by UNet2DConditionModel here");
    }

    /** Sizes and counts: non-negative. */
    private static int[] counts(JsonConfig c, String field, int[] values) {
        for (int v : values) if (v < 0) throw c.invalid(field, "must not be negative, got " + v);
        return values;
    }

    private static int count(JsonConfig c, String field, int fallback) {
        return counts(c, field, new int[] {c.getInt(field, fallback)})[0];
    }

    private static Integer optionalCount(JsonConfig c, String field) {
        return c.has(field) ? count(c, field, 0) : null;
    }
}
