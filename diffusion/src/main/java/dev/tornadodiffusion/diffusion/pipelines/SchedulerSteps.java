package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.diffusion.NoiseSource;
import dev.tornadodiffusion.diffusion.schedulers.SamplerSteps;
import dev.tornadodiffusion.diffusion.schedulers.Scheduler;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * A diffusers scheduler's steps over {@code timesteps}: the guided UNet prediction (one device call), then the scheduler
 * step on the host; with {@code inpainting} (or null) its UNet input and per-step blend; {@code modelInputs} (or null)
 * receives each step's UNet input.
 */
record SchedulerSteps(Backend be, Scheduler scheduler, Tensor timesteps, GuidedPrediction prediction, NoiseSource gen,
                      Inpainting inpainting, BiConsumer<Integer, Tensor> modelInputs) implements SamplerSteps {
    @Override public int count() { return (int) timesteps.numel(); }

    @Override
    public Tensor step(int i, Tensor latents, Consumer<Tensor> rawOutput) {
        double t = Scheduler.exactValue(timesteps, i);
        Tensor input = scheduler.scaleModelInput(latents, t);
        if (inpainting != null) input = inpainting.modelInput(be, input);
        if (modelInputs != null) modelInputs.accept(i, input);
        Tensor noise = prediction.predict(input, timesteps.narrow(0, i, 1), rawOutput);
        Tensor next = scheduler.step(noise, t, latents, gen).prevSample();
        return inpainting == null ? next : inpainting.afterStep(be, scheduler, next, timesteps, i);
    }
}
