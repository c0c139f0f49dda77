package dev.tornadodiffusion.diffusion.schedulers;

/** What the denoiser predicts ({@code prediction_type}): the noise, the clean sample, or v (Salimans and Ho, 2022). */
public enum PredictionType {
    EPSILON, SAMPLE, V_PREDICTION, ORIGINAL_SAMPLE
}
