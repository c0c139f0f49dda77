package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.tensor.Tensor;

/**
 * What {@link Scheduler#step} returns: {@code prev_sample}, the input of the next step, and
 * {@code pred_original_sample} (LCM: {@code denoised}), the current estimate of the clean sample, or null for
 * schedulers that do not report one (Heun, DPM-Solver, UniPC, PNDM).
 */
public record SchedulerOutput(Tensor prevSample, Tensor predOriginalSample) {}
