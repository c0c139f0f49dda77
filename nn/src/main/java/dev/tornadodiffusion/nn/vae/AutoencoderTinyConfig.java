package dev.tornadodiffusion.nn.vae;

import dev.tornadodiffusion.weights.JsonConfig;

import java.util.Arrays;

/**
 * diffusers' {@code AutoencoderTiny} (TAESD) config, same field names and defaults. Its encoder and decoder build
 * each level's stride / upsampling conv with that level's own width, so they only run when every level has the
 * same width (as every released TAESD does); other widths are refused here.
 */
public record AutoencoderTinyConfig(int in_channels, int out_channels, int[] encoder_block_out_channels,
                                    int[] decoder_block_out_channels, int latent_channels, int upsampling_scaling_factor,
                                    int[] num_encoder_blocks, int[] num_decoder_blocks, double latent_magnitude,
                                    double latent_shift, double scaling_factor) {

    public static AutoencoderTinyConfig from(JsonConfig c) {
        c.getChoice("act_fn", "relu", "relu");
        int[] enc = c.getIntArray("encoder_block_out_channels", new int[]{64, 64, 64, 64});
        int[] dec = c.getIntArray("decoder_block_out_channels", new int[]{64, 64, 64, 64});
        int[] numEnc = c.getIntArray("num_encoder_blocks", new int[]{1, 3, 3, 3});
        int[] numDec = c.getIntArray("num_decoder_blocks", new int[]{3, 3, 3, 1});
        sameWidth(c, "encoder_block_out_channels", enc);
        sameWidth(c, "decoder_block_out_channels", dec);
        if (numEnc.length != enc.length) throw c.invalid("num_encoder_blocks", "has " + numEnc.length + " entries, encoder_block_out_channels " + enc.length);
        if (numDec.length != dec.length) throw c.invalid("num_decoder_blocks", "has " + numDec.length + " entries, decoder_block_out_channels " + dec.length);
        int up = c.getInt("upsampling_scaling_factor", 2);
        if (up != 2) throw c.invalid("upsampling_scaling_factor", "only 2 is supported, got " + up);
        return new AutoencoderTinyConfig(c.getInt("in_channels", 3), c.getInt("out_channels", 3), enc, dec,
                c.getInt("latent_channels", 4), up, numEnc, numDec, c.getDouble("latent_magnitude", 3),
                c.getDouble("latent_shift", 0.5), c.getDouble("scaling_factor", 1.0));
    }

    private static void sameWidth(JsonConfig c, String key, int[] widths) {
        if (widths.length == 0) throw c.invalid(key, "is empty");
        for (int w : widths)
            if (w != widths[0]) throw c.invalid(key, Arrays.toString(widths) + ": every level must have the same width (diffusers' EncoderTiny / DecoderTiny)");
    }

    /** Height and width of a latent are the image's divided by this (2 per downsampling level, as the pipelines take it). */
    public int downscale() { return 1 << (decoder_block_out_channels.length - 1); }
}
