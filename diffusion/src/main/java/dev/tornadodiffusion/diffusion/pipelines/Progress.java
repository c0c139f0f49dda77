package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.tensor.Tensor;

/** Callbacks during one generation; called on the generating thread. */
public interface Progress {
    /** A stage starts: "text encoder", "denoise", "vae decode", ... */
    default void stage(String name) {}

    /** Denoising step {@code step} (1-based) of {@code total} finished, with the latents after it. */
    default void step(int step, int total, double secondsPerStep, Tensor latents) {}

    /**
     * Whether {@link #modelOutput} should receive the denoiser's raw output. Off by default: on a device backend
     * it costs one more transfer per step.
     */
    default boolean wantsModelOutput() { return false; }

    /** The denoiser's input at step {@code step} (1-based) when {@link #wantsModelOutput}: [B, C, h, w], before the CFG doubling. */
    default void modelInput(int step, Tensor input) {}

    /** The denoiser's raw output at step {@code step} (1-based), before guidance: [2B, ...] with CFG (uncond first). */
    default void modelOutput(int step, Tensor output) {}

    /**
     * Every how many steps {@link #preview} should receive a quick decode of the latents (TAESD when the pipeline was
     * loaded with one, else the VAE); 0: never.
     */
    default int previewEvery() { return 0; }

    /** A preview after step {@code step} (1-based): images [B, H, W, 3] in [0, 1]. */
    default void preview(int step, Tensor images) {}

    /** Asked before every step: true stops the generation with a {@link java.util.concurrent.CancellationException}. */
    default boolean cancelled() { return false; }

    Progress NONE = new Progress() {};
}
