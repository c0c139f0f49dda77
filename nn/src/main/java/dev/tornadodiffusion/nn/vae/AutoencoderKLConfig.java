package dev.tornadodiffusion.nn.vae;

import dev.tornadodiffusion.weights.JsonConfig;

import java.util.Arrays;

/**
 * diffusers' {@code AutoencoderKL} config (same field names and defaults). {@code shift_factor},
 * {@code use_quant_conv}, {@code use_post_quant_conv} and {@code mid_block_add_attention} arrived after v0.27.2
 * (16-channel Flux / SD3-style VAEs); absent, they mean no shift, both 1x1 convs, attention in the mid block.
 * {@code sample_size} sets the default tile size of tiled encode / decode.
 */
public record AutoencoderKLConfig(int in_channels, int out_channels, int[] block_out_channels, int layers_per_block,
                                  int latent_channels, int norm_num_groups, int sample_size, double scaling_factor,
                                  Double shift_factor, boolean use_quant_conv, boolean use_post_quant_conv,
                                  boolean mid_block_add_attention) {

    public static AutoencoderKLConfig from(JsonConfig c) {
        int[] boc = c.getIntArray("block_out_channels", new int[]{64});
        if (boc.length == 0) throw c.invalid("block_out_channels", "is empty");
        String[] down = c.getStringArray("down_block_types", new String[]{"DownEncoderBlock2D"});
        String[] up = c.getStringArray("up_block_types", new String[]{"UpDecoderBlock2D"});
        requireAll(c, "down_block_types", down, "DownEncoderBlock2D", boc.length);
        requireAll(c, "up_block_types", up, "UpDecoderBlock2D", boc.length);
        c.getChoice("act_fn", "silu", "silu");
        int groups = c.getInt("norm_num_groups", 32);
        for (int ch : boc) if (groups <= 0 || ch % groups != 0) throw c.invalid("norm_num_groups", groups + " does not divide block_out_channels " + Arrays.toString(boc));
        return new AutoencoderKLConfig(c.getInt("in_channels", 3), c.getInt("out_channels", 3), boc,
                c.getInt("layers_per_block", 1), c.getInt("latent_channels", 4), groups, sampleSize(c),
                c.getDouble("scaling_factor", 0.18215), c.getDoubleOrNull("shift_factor"),
                c.getBoolean("use_quant_conv", true), c.getBoolean("use_post_quant_conv", true),
                c.getBoolean("mid_block_add_attention", true));
    }

    /** diffusers takes the first entry when sample_size is a list [h, w]. */
    private static int sampleSize(JsonConfig c) {
        if (!c.isList("sample_size")) return c.getInt("sample_size", 32);
        int[] s = c.getIntArray("sample_size", null);
        if (s.length == 0) throw c.invalid("sample_size", "is an empty list");
        return s[0];
    }

    /** Height and width of a latent are the image's divided by this. */
    public int downscale() { return 1 << (block_out_channels.length - 1); }

    private static void requireAll(JsonConfig c, String key, String[] types, String supported, int levels) {
        if (types.length != levels) throw c.invalid(key, "has " + types.length + " entries, block_out_channels " + levels);
        for (String t : types) if (!t.equals(supported)) throw c.invalid(key, "'" + t + "' is not supported (only " + supported + ")");
    }
}
