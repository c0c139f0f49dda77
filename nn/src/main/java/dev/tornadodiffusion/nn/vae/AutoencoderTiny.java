package dev.tornadodiffusion.nn.vae;

import dev.tornadodiffusion.weights.JsonConfig;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.ModelFiles;
import dev.tornadodiffusion.weights.StateDict;

import java.io.IOException;
import java.nio.file.Path;

/**
 * TAESD, diffusers' {@code AutoencoderTiny} (madebyollin/taesd, taesdxl): a distilled VAE of plain convs that
 * encodes to and decodes from the same latent space as the model's own VAE, cheaply enough to preview every
 * step. Weights use diffusers' names ({@code encoder.layers.N}, {@code decoder.layers.N}).
 */
public final class AutoencoderTiny implements AutoCloseable {
    public final AutoencoderTinyConfig config;
    public final EncoderTiny encoder;
    public final DecoderTiny decoder;
    private final Backend be;
    private final StateDict owned;

    /** Builds the model over weights the caller keeps open (strictness is the caller's {@link Params#checkAllUsed()}). */
    public AutoencoderTiny(AutoencoderTinyConfig config, Params p) {
        this(config, p, null);
    }

    private AutoencoderTiny(AutoencoderTinyConfig config, Params p, StateDict owned) {
        this.config = config;
        this.encoder = new EncoderTiny(p.child("encoder"), config);
        this.decoder = new DecoderTiny(p.child("decoder"), config);
        this.be = p.backend();
        this.owned = owned;
    }

    /** A diffusers {@code AutoencoderTiny} folder (config.json + weights), mapped until {@link #close()}; strict. */
    public static AutoencoderTiny load(Path folder, Backend be, String variant) throws IOException {
        AutoencoderTinyConfig config = AutoencoderTinyConfig.from(JsonConfig.read(folder.resolve("config.json")));
        return StateDict.loadOrClose(ModelFiles.open(folder, variant), w -> Params.strict(w, be, p -> new AutoencoderTiny(config, p, w)));
    }

    @Override
    public void close() {
        if (owned != null) owned.close();
    }

    /** image [B, C, H, W] in [-1, 1] -> latent [B, latent_channels, H/8, W/8] ({@code encode(x).latents}). */
    public Tensor encode(Tensor x) {
        return encoder.forward(x);
    }

    /** Raw latent -> image in about [-1, 1] ({@code decode(z).sample}). */
    public Tensor decode(Tensor z) {
        return decoder.forward(z);
    }

    /** Latents as the denoiser sees them: {@code z * scaling_factor} (1 for TAESD). */
    public Tensor scaleLatents(Tensor z) {
        return be.scale(z, (float) config.scaling_factor());
    }

    /** The inverse of {@link #scaleLatents}. */
    public Tensor unscaleLatents(Tensor latents) {
        return be.scale(latents, (float) (1 / config.scaling_factor()));
    }

    /** diffusers' {@code scale_latents}: raw latents to [0, 1] for storing as bytes, {@code (z / (2 m) + shift).clamp(0, 1)}. */
    public Tensor latentsToUnit(Tensor z) {
        Tensor shifted = be.add(be.scale(z, (float) (1 / (2 * config.latent_magnitude()))), Tensor.scalar((float) config.latent_shift()));
        return be.clamp(shifted, 0f, 1f);
    }

    /** diffusers' {@code unscale_latents}: the inverse of {@link #latentsToUnit} (without the clamp), {@code (u - shift) * 2 m}. */
    public Tensor latentsFromUnit(Tensor u) {
        return be.scale(be.sub(u, Tensor.scalar((float) config.latent_shift())), (float) (2 * config.latent_magnitude()));
    }

    /** {@code forward()}'s results: the decoded image, the 8-bit latents (as floats 0..255) and what was decoded. */
    public record RoundTrip(Tensor sample, Tensor quantizedLatents, Tensor decoderInput) {}

    /** {@code forward()}: the TAESD round trip through 8-bit latents. */
    public RoundTrip roundTrip(Tensor x) {
        Tensor latents = encode(x);
        float[] u = latentsToUnit(latents).toFloatArray();
        float[] q = new float[u.length], back = new float[u.length];
        for (int i = 0; i < u.length; i++) {
            q[i] = (float) Math.rint(u[i] * 255f); // round half to even, as torch.round
            back[i] = q[i] / 255f;
        }
        Tensor decoderInput = latentsFromUnit(Tensor.of(back, latents.shape()));
        return new RoundTrip(decode(decoderInput), Tensor.of(q, latents.shape()), decoderInput);
    }
}
