package dev.tornadodiffusion.diffusion.pipelines;

/** Callbacks during one generation; called on the generating thread. */
public interface Progress {
    /** A stage starts: "text encoder", "denoise", "vae decode", ... */
    default void stage(String name) {}

    /** Denoising step {@code step} (1-based) of {@code total} finished, with the latents after it. */
    default void step(int step, int total, double secondsPerStep, dev.tornadodiffusion.tensor.Tensor latents) {}

    Progress NONE = new Progress() {};
}
