package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.tensor.Tensor;

import java.util.function.Consumer;

/**
 * One sampling run as the steps the pipelines' denoise loop drives: a scheduler with its timesteps and the guided
 * UNet, or TLD's sampler with its noise levels. Each step evaluates the model once and returns the latents the next
 * step starts from; what the last step returns is the denoised result.
 */
public interface SamplerSteps {
    /** Model evaluations in the run. */
    int count();

    /**
     * Step {@code i} (0-based) from {@code latents}; {@code rawOutput}, when not null, receives the model's raw
     * output (before guidance).
     */
    Tensor step(int i, Tensor latents, Consumer<Tensor> rawOutput);
}
