package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.tensor.Tensor;

import java.util.Map;

/**
 * Images [batch, H, W, 3] in [0, 1] (diffusers' output_type "np"), the final latents, and the settings as
 * "parameters" text (the A1111 convention: prompt, "Negative prompt: ...", "Steps: ..., Sampler: ...").
 */
public record GenerationResult(Tensor images, Tensor latents, Map<String, String> parameters) {

    /** Image {@code i} as [H, W, 3]. */
    public Tensor image(int i) { return images.select(0, i); }
}
