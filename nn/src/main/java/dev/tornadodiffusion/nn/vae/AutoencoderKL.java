package dev.tornadodiffusion.nn.vae;

import dev.tornadodiffusion.nn.Conv2d;
import dev.tornadodiffusion.weights.JsonConfig;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.ModelFiles;
import dev.tornadodiffusion.weights.StateDict;

import java.io.IOException;
import java.nio.file.Path;
import java.util.function.UnaryOperator;

/**
 * diffusers' {@code AutoencoderKL}: the KL-regularised VAE of Stable Diffusion (4 latent channels, with
 * quant_conv / post_quant_conv) and of the 16-channel DiT models (shift_factor, no quant convs).
 *
 * <p>Pipelines work on scaled latents: {@link #scaleLatents} = (z - shift_factor) * scaling_factor after
 * encoding, {@link #unscaleLatents} before decoding.
 *
 * <p>Tiling (diffusers' {@code enable_tiling}) encodes / decodes overlapping tiles and blends the seams linearly
 * over a quarter tile, so memory stays bounded by the tile size; slicing ({@code enable_slicing}) runs a batch one
 * image at a time. Tiled results differ from untiled ones near the seams by design.
 */
public final class AutoencoderKL implements AutoCloseable {
    /** diffusers' {@code tile_overlap_factor}. */
    public static final double TILE_OVERLAP_FACTOR = 0.25;

    public final AutoencoderKLConfig config;
    public final Encoder encoder;
    public final Decoder decoder;
    /** Null when the config has use_quant_conv / use_post_quant_conv false. */
    public final Conv2d quant_conv, post_quant_conv;
    private final Backend be;
    private final StateDict owned;
    private boolean useTiling, useSlicing;
    private int tileSampleMinSize, tileLatentMinSize;

    /** Builds the model over weights the caller keeps open (diffusers key names; strictness is the caller's {@link Params#checkAllUsed()}). */
    public AutoencoderKL(AutoencoderKLConfig config, Params p) {
        this(config, p, null);
    }

    private AutoencoderKL(AutoencoderKLConfig config, Params p, StateDict owned) {
        this.config = config;
        this.owned = owned;
        int lc = config.latent_channels();
        this.encoder = new Encoder(p.child("encoder"), config);
        this.decoder = new Decoder(p.child("decoder"), config);
        this.quant_conv = config.use_quant_conv() ? new Conv2d(p.child("quant_conv"), 2 * lc, 2 * lc, 1, 1, 0) : null;
        this.post_quant_conv = config.use_post_quant_conv() ? new Conv2d(p.child("post_quant_conv"), lc, lc, 1, 1, 0) : null;
        this.be = p.backend();
        setTileSize(config.sample_size());
    }

    /**
     * A diffusers {@code vae/} folder: config.json and the weights {@link ModelFiles} finds (optionally of a variant such
     * as "fp16"), used as stored and mapped until {@link #close()}. Strict: every key must be used.
     */
    public static AutoencoderKL load(Path folder, Backend be, String variant) throws IOException {
        AutoencoderKLConfig config = AutoencoderKLConfig.from(JsonConfig.read(folder.resolve("config.json")));
        return StateDict.loadOrClose(ModelFiles.open(folder, variant), w -> load(config, w, be));
    }

    /** The model over {@code weights} (strict: every key used); closing the model closes them. */
    public static AutoencoderKL load(AutoencoderKLConfig config, StateDict weights, Backend be) {
        return Params.strict(weights, be, p -> new AutoencoderKL(config, p, weights));
    }

    /** Releases the weights {@link #load} opened. */
    @Override
    public void close() {
        if (owned != null) owned.close();
    }

    /** Tiled encode / decode with diffusers' default tiles: sample_size pixels (sample_size / 2^(levels-1) latents). */
    public void enableTiling() {
        enableTiling(config.sample_size());
    }

    /**
     * Tiled encode / decode with tiles of {@code tileSampleSize} pixels (a multiple of 2^(levels-1)): smaller tiles
     * bound memory further (SDXL's VAE has sample_size 1024; 512-pixel tiles keep a 1024x1024 decode small).
     */
    public void enableTiling(int tileSampleSize) {
        if (tileSampleSize < 2 * config.downscale() || tileSampleSize % config.downscale() != 0)
            throw new IllegalArgumentException("VAE tile size " + tileSampleSize + " must be a multiple of " + config.downscale() + " and at least " + 2 * config.downscale());
        setTileSize(tileSampleSize);
        useTiling = true;
    }

    public void disableTiling() { useTiling = false; }

    public void enableSlicing(boolean on) { useSlicing = on; }

    private void setTileSize(int sample) {
        tileSampleMinSize = sample;
        tileLatentMinSize = sample / config.downscale();
    }

    /** image [B, in_channels, H, W] in [-1, 1] -> the posterior over latents [B, latent_channels, H/f, W/f]. */
    public DiagonalGaussianDistribution encode(Tensor x) {
        if (useTiling && (x.dim(3) > tileSampleMinSize || x.dim(2) > tileSampleMinSize)) {
            int overlap = (int) (tileSampleMinSize * (1 - TILE_OVERLAP_FACTOR));
            int blend = (int) (tileLatentMinSize * TILE_OVERLAP_FACTOR);
            return new DiagonalGaussianDistribution(tiled(x, tileSampleMinSize, overlap, blend, tileLatentMinSize - blend, this::moments), be);
        }
        Tensor h = useSlicing ? perImage(x, encoder::forward) : encoder.forward(x);
        return new DiagonalGaussianDistribution(quant_conv == null ? h : quant_conv.forward(h), be);
    }

    /** Raw (unscaled) latent [B, latent_channels, h, w] -> image [B, out_channels, h*f, w*f]. */
    public Tensor decode(Tensor z) {
        return useSlicing ? perImage(z, this::decodeBatch) : decodeBatch(z);
    }

    /** Denoised latents -> image, as one device call (Backend.run): {@code decode(unscaleLatents(latents))}. */
    public Tensor decodeLatents(Tensor latents) {
        return be.run(this, x -> decode(unscaleLatents(x[0])), latents);
    }

    /** {@code decode(z * factor)} as one device call, for samplers whose latents carry their own factor (TLD). */
    public Tensor decodeTimes(Tensor z, float factor) {
        return be.run(this, x -> decode(be.scale(x[0], factor)), z);
    }

    /** Latents as the denoiser sees them: {@code (z - shift_factor) * scaling_factor}. */
    public Tensor scaleLatents(Tensor z) {
        Tensor shifted = config.shift_factor() == null ? z : be.sub(z, Tensor.scalar(config.shift_factor().floatValue()));
        return be.scale(shifted, (float) config.scaling_factor());
    }

    /** The inverse of {@link #scaleLatents}: {@code latents / scaling_factor + shift_factor}. */
    public Tensor unscaleLatents(Tensor latents) {
        Tensor z = be.scale(latents, (float) (1 / config.scaling_factor()));
        return config.shift_factor() == null ? z : be.add(z, Tensor.scalar(config.shift_factor().floatValue()));
    }

    private Tensor moments(Tensor x) {
        Tensor h = encoder.forward(x);
        return quant_conv == null ? h : quant_conv.forward(h);
    }

    private Tensor decodeBatch(Tensor z) {
        if (useTiling && (z.dim(3) > tileLatentMinSize || z.dim(2) > tileLatentMinSize)) {
            int overlap = (int) (tileLatentMinSize * (1 - TILE_OVERLAP_FACTOR));
            int blend = (int) (tileSampleMinSize * TILE_OVERLAP_FACTOR);
            return tiled(z, tileLatentMinSize, overlap, blend, tileSampleMinSize - blend, this::decodeTile);
        }
        return decodeTile(z);
    }

    private Tensor decodeTile(Tensor z) {
        return decoder.forward(post_quant_conv == null ? z : post_quant_conv.forward(z));
    }

    private Tensor perImage(Tensor x, UnaryOperator<Tensor> f) {
        if (x.dim(0) == 1) return f.apply(x);
        Tensor[] out = new Tensor[x.dim(0)];
        for (int i = 0; i < out.length; i++) out[i] = f.apply(x.narrow(0, i, 1));
        return be.concat(0, out);
    }

    /**
     * diffusers' tiled_encode / tiled_decode: tiles of {@code tile} input pixels every {@code overlap}, each mapped
     * by {@code f}; every tile is blended with the (already blended) tile above and to its left over {@code blend}
     * output rows / columns, then cropped to {@code rowLimit} and the crops concatenated.
     */
    private Tensor tiled(Tensor x, int tile, int overlap, int blend, int rowLimit, UnaryOperator<Tensor> f) {
        int h = x.dim(2), w = x.dim(3);
        int rows = (h + overlap - 1) / overlap, cols = (w + overlap - 1) / overlap;
        Tensor[][] tiles = new Tensor[rows][cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) {
                int y = i * overlap, xx = j * overlap;
                tiles[i][j] = f.apply(x.narrow(2, y, Math.min(tile, h - y)).narrow(3, xx, Math.min(tile, w - xx)));
            }
        Tensor[] resultRows = new Tensor[rows];
        for (int i = 0; i < rows; i++) {
            Tensor[] resultRow = new Tensor[cols];
            for (int j = 0; j < cols; j++) {
                Tensor t = tiles[i][j];
                if (i > 0) t = blend(tiles[i - 1][j], t, blend, 2);
                if (j > 0) t = blend(tiles[i][j - 1], t, blend, 3);
                tiles[i][j] = t;   // upstream blends in place: later neighbours see the blended tile
                resultRow[j] = t.narrow(2, 0, Math.min(rowLimit, t.dim(2))).narrow(3, 0, Math.min(rowLimit, t.dim(3)));
            }
            resultRows[i] = be.concat(3, resultRow);
        }
        return be.concat(2, resultRows);
    }

    /**
     * blend_v (dim 2) / blend_h (dim 3): the first e rows (columns) of b become a's last e weighted (1 - y/e) plus b's
     * weighted y/e, e = min(extent, both sizes).
     */
    private Tensor blend(Tensor a, Tensor b, int extent, int dim) {
        int e = Math.min(Math.min(a.dim(dim), b.dim(dim)), extent);
        if (e == 0) return b;
        float[] wa = new float[e], wb = new float[e];
        for (int y = 0; y < e; y++) {
            wa[y] = (float) (1 - (double) y / e);
            wb[y] = (float) ((double) y / e);
        }
        int[] shape = dim == 2 ? new int[]{e, 1} : new int[]{e};
        Tensor head = be.add(be.mul(a.narrow(dim, a.dim(dim) - e, e), Tensor.of(wa, shape)), be.mul(b.narrow(dim, 0, e), Tensor.of(wb, shape)));
        return e == b.dim(dim) ? head : be.concat(dim, head, b.narrow(dim, e, b.dim(dim) - e));
    }
}
