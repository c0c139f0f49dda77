package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.tensor.Tensor;

/**
 * What {@link Scheduler#step} returns: {@code prev_sample}, the input of the next step, and
 * {@code pred_original_sample} (LCM: {@code denoised}), the current estimate of the clean sample, or null for
 * schedulers that do not report one (Heun, KDPM2, DPM-Solver, DEIS, UniPC, PNDM); TCD also reports
 * {@code pred_noised_sample}, the sample at its intermediate timestep before the re-noising.
 */
public record SchedulerOutput(Tensor prevSample, Tensor predOriginalSample, Tensor predNoisedSample) {

    public SchedulerOutput(Tensor prevSample, Tensor predOriginalSample) {
        this(prevSample, predOriginalSample, null);
    }
}
