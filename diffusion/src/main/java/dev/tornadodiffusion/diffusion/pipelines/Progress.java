package dev.tornadodiffusion.diffusion.pipelines;

/** Callbacks during one generation; called on the generating thread. */
public interface Progress {
    /** A stage starts: "text encoder", "denoise", "vae decode", ... */
    default void stage(String name) {}

    /** Denoising step {@code step} (1-based) of {@code total} finished, with the latents after it. */
    default void step(int step, int total, double secondsPerStep, dev.tornadodiffusion.tensor.Tensor latents) {}

    /** The denoiser's raw output at step {@code step} (1-based), before guidance: [2B, ...] with CFG (uncond first). */
    default void modelOutput(int step, dev.tornadodiffusion.tensor.Tensor output) {}

    Progress NONE = new Progress() {};
}
