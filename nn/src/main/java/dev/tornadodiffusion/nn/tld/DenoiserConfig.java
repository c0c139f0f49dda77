package dev.tornadodiffusion.nn.tld;

import dev.tornadodiffusion.weights.JsonConfig;

/**
 * TLD's {@code tld.configs.DenoiserConfig}: the {@code Denoiser} constructor arguments, same names and defaults.
 * ({@code dropout} is read by TLD only in training and is ignored here.)
 */
public record DenoiserConfig(int image_size, int noise_embed_dims, int patch_size, int embed_dim, int n_layers,
                             int text_emb_size, int mlp_multiplier, int n_channels) {

    public static DenoiserConfig from(JsonConfig c) {
        DenoiserConfig d = new DenoiserConfig(c.getInt("image_size", 16), c.getInt("noise_embed_dims", 256),
                c.getInt("patch_size", 2), c.getInt("embed_dim", 128), c.getInt("n_layers", 3),
                c.getInt("text_emb_size", 768), c.getInt("mlp_multiplier", 4), c.getInt("n_channels", 4));
        if (d.embed_dim < 64) throw c.invalid("embed_dim", d.embed_dim + " gives no attention head (TLD uses embed_dim // 64 heads)");
        if (d.embed_dim % d.n_heads() != 0) throw c.invalid("embed_dim", d.embed_dim + " is not divisible into embed_dim // 64 = " + d.n_heads() + " heads");
        if (d.patch_size <= 0 || d.image_size < d.patch_size) throw c.invalid("patch_size", d.patch_size + " does not fit image_size " + d.image_size);
        if (d.noise_embed_dims < 2 || d.noise_embed_dims % 2 != 0) throw c.invalid("noise_embed_dims", "must be even, got " + d.noise_embed_dims);
        return d;
    }

    /** Attention heads of every block (self and cross): embed_dim // 64. */
    public int n_heads() { return embed_dim / 64; }

    /** Tokens per side after patchifying. */
    public int grid() { return image_size / patch_size; }
}
