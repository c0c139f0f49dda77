package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.diffusion.schedulers.SchedulerConfig;
import dev.tornadodiffusion.tensor.Tensor;

/** What the UNet pipelines (SD, SDXL) offer beyond {@link Pipeline}, for reference comparisons. */
interface UNetPipeline extends Pipeline {
    /** The VAE decoder's raw output [B, 3, H, W] for denoised latents, before the [0, 1] post-processing. */
    Tensor decodeRaw(Tensor latents);

    /** The same loaded models with another scheduler; closing the original closes both. */
    UNetPipeline withScheduler(SchedulerConfig config);

    /** The scheduler's timesteps for {@code steps} steps, as the UNet receives them. */
    Tensor timesteps(int steps);
}
