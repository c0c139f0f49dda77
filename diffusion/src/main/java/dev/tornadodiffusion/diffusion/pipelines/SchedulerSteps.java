package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.diffusion.NoiseSource;
import dev.tornadodiffusion.diffusion.schedulers.SamplerSteps;
import dev.tornadodiffusion.diffusion.schedulers.Scheduler;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.function.Consumer;

/** A diffusers scheduler's steps over {@code timesteps}: the guided UNet prediction (one device call), then the scheduler step on the host. */
record SchedulerSteps(Scheduler scheduler, Tensor timesteps, GuidedPrediction prediction, NoiseSource gen) implements SamplerSteps {
    @Override public int count() { return (int) timesteps.numel(); }

    @Override
    public Tensor step(int i, Tensor latents, Consumer<Tensor> rawOutput) {
        double t = Scheduler.exactValue(timesteps, i);
        Tensor noise = prediction.predict(scheduler.scaleModelInput(latents, t), timesteps.narrow(0, i, 1), rawOutput);
        return scheduler.step(noise, t, latents, gen).prevSample();
    }
}
