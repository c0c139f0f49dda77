package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.diffusion.image.ImageTensors;
import dev.tornadodiffusion.nn.vae.AutoencoderKL;
import dev.tornadodiffusion.nn.vae.AutoencoderTiny;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.function.Supplier;

/**
 * A UNet pipeline's image side: the VAE that encodes init images and decodes the denoised latents, with the one
 * tiling rule: VAE work on images larger than {@value #TILING_ABOVE}x{@value #TILING_ABOVE} pixels runs in
 * {@value #VAE_TILE}-pixel tiles (diffusers' {@code enable_tiling}), so a 1024x1024 decode stays within a few GiB on
 * the CPU; up to that size the result is the untiled one. With a TAESD ({@code tiny}, or null) the final decode and
 * the previews use it.
 */
public final class VaeStage {
    public static final int TILING_ABOVE = 768, VAE_TILE = 512;

    final AutoencoderKL vae;
    final AutoencoderTiny tiny;

    VaeStage(AutoencoderKL vae, AutoencoderTiny tiny) {
        this.vae = vae;
        this.tiny = tiny;
    }

    /** The init image's scaled latents: {@code scaleLatents(vae.encode(image).sample(noise))}. */
    Tensor encode(Tensor vaeInput, Tensor noise) {
        return vae.scaleLatents(tiled(vaeInput.dim(2), vaeInput.dim(3), () -> vae.encode(vaeInput).sample(noise)));
    }

    /** decode, then post-processing: images [B, H, W, 3] in [0, 1] of the denoised latents. */
    Tensor images(Tensor latents, Progress progress) {
        progress.stage(tiny == null ? "vae decode" : "taesd decode");
        return ImageTensors.fromDecoded(decodeFinal(latents));
    }

    /** The decoder's raw output [B, 3, H, W]: TAESD's when loaded, else the VAE's. */
    private Tensor decodeFinal(Tensor latents) {
        if (tiny == null) return decodeRaw(latents);
        synchronized (tiny) {
            // TAESD decodes the UNet's latents as they are: its scaling factor is 1
            return tiny.decode(tiny.unscaleLatents(latents));
        }
    }

    /** The VAE decoder's raw output [B, 3, H, W] for denoised latents, before the [0, 1] post-processing. */
    Tensor decodeRaw(Tensor latents) {
        int factor = vae.config.downscale();
        return tiled(latents.dim(2) * factor, latents.dim(3) * factor, () -> vae.decodeLatents(latents));
    }

    /**
     * Runs VAE work for an image of this size, tiled above {@value #TILING_ABOVE}^2 pixels. Serialised on the VAE:
     * tiling is a setting of the shared model, and one large decode at a time also bounds memory.
     */
    private <T> T tiled(int height, int width, Supplier<T> f) {
        synchronized (vae) {
            if ((long) height * width <= (long) TILING_ABOVE * TILING_ABOVE) return f.get();
            vae.enableTiling(VAE_TILE);
            try {
                return f.get();
            } finally {
                vae.disableTiling();
            }
        }
    }

    /** {@code progress} that also receives a quick decode of the latents every {@link Progress#previewEvery} steps and after the last. */
    Progress withPreviews(Progress progress) {
        if (progress.previewEvery() <= 0) return progress;
        return new Progress() {
            @Override public void stage(String name) { progress.stage(name); }
            @Override public boolean wantsModelOutput() { return progress.wantsModelOutput(); }
            @Override public void modelInput(int step, Tensor input) { progress.modelInput(step, input); }
            @Override public void modelOutput(int step, Tensor output) { progress.modelOutput(step, output); }
            @Override public boolean cancelled() { return progress.cancelled(); }
            @Override public int previewEvery() { return progress.previewEvery(); }
            @Override public void preview(int step, Tensor images) { progress.preview(step, images); }

            @Override
            public void step(int step, int total, double secondsPerStep, Tensor latents) {
                progress.step(step, total, secondsPerStep, latents);
                if (step % progress.previewEvery() == 0 || step == total)
                    progress.preview(step, ImageTensors.fromDecoded(decodeFinal(latents)));
            }
        };
    }
}
