package dev.tornadodiffusion.nn.tld;

import dev.tornadodiffusion.nn.Conv2d;
import dev.tornadodiffusion.weights.JsonConfig;
import dev.tornadodiffusion.nn.LayerNorm;
import dev.tornadodiffusion.nn.Linear;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.ModelFiles;
import dev.tornadodiffusion.weights.StateDict;
import dev.tornadodiffusion.weights.WeightFormatException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * TLD's transformer denoiser ({@code tld.denoiser.Denoiser} with its {@code DenoiserTransBlock}, apapiu/
 * transformer_latent_diffusion): predicts the clean latent x0 from a noisy latent, a noise level in [0, 1] and a
 * CLIP embedding. Keys are the upstream {@code state_dict()} names, buffers included.
 *
 * <p>Conditioning: two tokens, LayerNorm([fourier_feats(noise_level), label_proj(label)]), where fourier_feats is
 * [sin(w x), cos(w x)] (sin first) with the stored float32 {@code angular_speeds} w, then Linear, GELU, Linear.
 * Image path: patch conv, LayerNorm, Linear, LayerNorm, + learned positions, decoder blocks, Linear back to
 * patches and unpatchify.
 */
public final class Denoiser implements AutoCloseable {
    public final DenoiserConfig config;
    public final Tensor angular_speeds, pos_embed;
    public final Linear fourier_feats1, fourier_feats3, label_proj, patch_linear, out_proj;
    public final LayerNorm norm, patch_norm1, patch_norm2;
    public final Conv2d patch_conv;
    public final List<DecoderBlock> decoder_blocks = new ArrayList<>();
    private final Backend be;
    private final StateDict owned;

    /** Builds the model over weights the caller keeps open (strictness is the caller's {@link Params#checkAllUsed()}). */
    public Denoiser(DenoiserConfig c, Params p) {
        this(c, p, null);
    }

    private Denoiser(DenoiserConfig c, Params p, StateDict owned) {
        this.config = c;
        this.owned = owned;
        int d = c.embed_dim(), ps = c.patch_size(), patchDim = c.n_channels() * ps * ps;
        Params ff = p.child("fourier_feats");
        this.angular_speeds = ff.child(0).get("angular_speeds", c.noise_embed_dims() / 2);
        this.fourier_feats1 = new Linear(ff.child(1), c.noise_embed_dims(), d, true);
        this.fourier_feats3 = new Linear(ff.child(3), d, d, true);
        this.label_proj = new Linear(p.child("label_proj"), c.text_emb_size(), d, true);
        this.norm = new LayerNorm(p.child("norm"), d, 1e-5f);

        Params tb = p.child("denoiser_trans_block"), pe = tb.child("patchify_and_embed");
        this.patch_conv = new Conv2d(pe.child(0), c.n_channels(), patchDim, ps, ps, 0);
        this.patch_norm1 = new LayerNorm(pe.child(2), patchDim, 1e-5f);
        this.patch_linear = new Linear(pe.child(3), patchDim, d, true);
        this.patch_norm2 = new LayerNorm(pe.child(4), d, 1e-5f);
        // seq_len as upstream computes it: int((img / patch) * (img / patch))
        int seqLen = (int) ((double) c.image_size() / ps * ((double) c.image_size() / ps));
        this.pos_embed = tb.child("pos_embed").get("weight", seqLen, d);
        requirePositionIds(tb, seqLen);
        for (int i = 0; i < c.n_layers(); i++) decoder_blocks.add(new DecoderBlock(tb.child("decoder_blocks").child(i), c));
        this.out_proj = new Linear(tb.child("out_proj").child(0), d, patchDim, true);
        this.be = p.backend();
    }

    /**
     * A folder with config.json (DenoiserConfig fields) and the weights {@link ModelFiles} finds
     * ({@code model.safetensors}), mapped until {@link #close()}. Strict: every key, buffers included, must be used.
     */
    public static Denoiser load(Path folder, Backend be) throws IOException {
        DenoiserConfig config = DenoiserConfig.from(JsonConfig.read(folder.resolve("config.json")));
        return StateDict.loadOrClose(ModelFiles.open(folder), w -> load(config, w, be));
    }

    /** The model over {@code weights} (e.g. TLD's own state_dict.pth read by a torch-file reader); closing the model closes them. */
    public static Denoiser load(DenoiserConfig config, StateDict weights, Backend be) {
        return Params.strict(weights, be, p -> new Denoiser(config, p, weights));
    }

    /** Releases the weights {@link #load} opened. */
    @Override
    public void close() {
        if (owned != null) owned.close();
    }

    /** {@link #forward} as one device call (Backend.run). */
    public Tensor predict(Tensor x, Tensor noise_level, Tensor label) {
        return be.run(this, in -> forward(in[0], in[1], in[2]), x, noise_level, label);
    }

    /**
     * @param x           noisy latent [B, n_channels, image_size, image_size]
     * @param noise_level [B, 1] in [0, 1]
     * @param label       [B, text_emb_size] conditioning embedding (zeros = unconditional)
     * @return the predicted clean latent, shaped like x
     */
    public Tensor forward(Tensor x, Tensor noise_level, Tensor label) {
        int b = x.dim(0), s = config.image_size(), g = config.grid(), ps = config.patch_size(), ch = config.n_channels();
        if (x.rank() != 4 || x.dim(1) != ch || x.dim(2) != s || x.dim(3) != s)
            throw new IllegalArgumentException("TLD denoiser: x must be [B, " + ch + ", " + s + ", " + s + "], got " + Arrays.toString(x.shape()));
        if (!Arrays.equals(noise_level.shape(), new int[]{b, 1}) || !Arrays.equals(label.shape(), new int[]{b, config.text_emb_size()}))
            throw new IllegalArgumentException("TLD denoiser: noise_level must be [" + b + ", 1] and label [" + b + ", " + config.text_emb_size()
                    + "], got " + Arrays.toString(noise_level.shape()) + " and " + Arrays.toString(label.shape()));
        Tensor cond = norm.forward(be.concat(1, noiseEmbedding(noise_level).unsqueeze(1), label_proj.forward(label).unsqueeze(1)));

        Tensor h = patch_conv.forward(x);                                   // [B, pd, g, g]
        h = be.contiguous(h.reshape(b, h.dim(1), g * g).transpose(1, 2));   // 'bs d h w -> bs (h w) d'
        h = patch_norm2.forward(patch_linear.forward(patch_norm1.forward(h)));
        h = be.add(h, pos_embed.narrow(0, 0, g * g));
        for (DecoderBlock block : decoder_blocks) h = block.forward(h, cond);
        h = out_proj.forward(h);                                            // [B, g*g, C*p*p]
        // 'b (h w) (c p1 p2) -> b c (h p1) (w p2)'
        h = be.contiguous(h.reshape(b, g, g, ch, ps, ps).permute(0, 3, 1, 4, 2, 5));
        return h.reshape(b, ch, g * ps, g * ps);
    }

    /** fourier_feats: [sin(w x), cos(w x)] with the float32 product w*x as torch rounds it, then Linear, GELU, Linear. */
    private Tensor noiseEmbedding(Tensor noiseLevel) {
        Tensor wx = be.mul(angular_speeds, noiseLevel);                     // [half] * [B, 1] -> [B, half]
        Tensor e = be.concat(1, be.sin(wx), be.cos(wx));
        return fourier_feats3.forward(be.gelu(fourier_feats1.forward(e)));
    }

    /**
     * The {@code precomputed_pos_enc} buffer is arange(seq_len) by construction, so the positions are the first rows
     * of pos_embed; the key must be present (strict loading) but its values are not read.
     */
    private static void requirePositionIds(Params tb, int seqLen) {
        if (!tb.has("precomputed_pos_enc"))
            throw new WeightFormatException("TLD denoiser: missing key '" + tb.prefix() + "precomputed_pos_enc' (position-id buffer of " + seqLen + ")");
        tb.ignore("precomputed_pos_enc");
    }
}
