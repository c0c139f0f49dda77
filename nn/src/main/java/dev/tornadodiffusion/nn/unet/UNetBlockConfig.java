package dev.tornadodiffusion.nn.unet;

/**
 * What one UNet block is built from: the arguments diffusers' {@code get_down_block} / {@code get_up_block} /
 * {@code UNetMidBlock2DCrossAttn} receive (unet_2d_blocks.py names), derived from the model config by
 * {@link #down}, {@link #up} and {@link #mid}.
 *
 * @param transformer_layers_per_block depth of each layer's Transformer2DModel (cross-attention blocks)
 * @param in_channels                  down / mid: the input width; up: the channels of the deepest skip it takes
 * @param prev_output_channel          up: the channels coming from the block below (0 elsewhere)
 */
public record UNetBlockConfig(int num_layers, int[] transformer_layers_per_block, int in_channels, int prev_output_channel,
                              int out_channels, int temb_channels, boolean add_downsample, boolean add_upsample,
                              float resnet_eps, int resnet_groups, int downsample_padding, float output_scale_factor,
                              int cross_attention_dim, int num_attention_heads, boolean use_linear_projection) {

    /** Down block {@code i} from {@code in} to {@code out} channels (every block but the last halves the size). */
    static UNetBlockConfig down(UNet2DConditionConfig c, int i, int in, int out) {
        return new UNetBlockConfig(c.layers_per_block()[i], c.transformer_layers_per_block()[i], in, 0, out, c.time_embed_dim(),
                i < c.block_out_channels().length - 1, false, c.norm_eps(), c.norm_num_groups(), c.downsample_padding(), 1f,
                c.cross_attention_dim()[i], c.num_attention_heads(i), c.use_linear_projection());
    }

    /** The mid block at the deepest width. */
    static UNetBlockConfig mid(UNet2DConditionConfig c) {
        int n = c.block_out_channels().length;
        return new UNetBlockConfig(1, new int[]{c.transformer_layers_per_block()[n - 1][0]}, c.block_out_channels()[n - 1], 0,
                c.block_out_channels()[n - 1], c.time_embed_dim(), false, false, c.norm_eps(), c.norm_num_groups(), 0,
                c.mid_block_scale_factor(), c.cross_attention_dim()[n - 1], c.num_attention_heads(n - 1), c.use_linear_projection());
    }

    /** Up block {@code i} (mirroring down block {@code n - 1 - i}): one layer more than its down block, skips of {@code in} channels. */
    static UNetBlockConfig up(UNet2DConditionConfig c, int i, int in, int prevOut, int out) {
        int rev = c.block_out_channels().length - 1 - i;
        return new UNetBlockConfig(c.layers_per_block()[rev] + 1, c.up_transformer_layers(i), in, prevOut, out, c.time_embed_dim(),
                false, i < c.block_out_channels().length - 1, c.norm_eps(), c.norm_num_groups(), 0, 1f,
                c.cross_attention_dim()[rev], c.num_attention_heads(rev), c.use_linear_projection());
    }
}
