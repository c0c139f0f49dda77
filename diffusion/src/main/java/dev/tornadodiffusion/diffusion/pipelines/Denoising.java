package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.diffusion.schedulers.SamplerSteps;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.concurrent.CancellationException;
import java.util.function.Consumer;

/** The denoise loop every pipeline runs: one sampler step per iteration, with progress and cancellation between steps. */
public final class Denoising {
    private Denoising() {}

    /** Runs every step of {@code steps} from {@code latents}; returns the denoised latents. */
    public static Tensor run(SamplerSteps steps, Tensor latents, Progress progress) {
        int n = steps.count();
        progress.stage("denoise: " + n + " steps");
        for (int i = 0; i < n; i++) {
            if (progress.cancelled()) throw new CancellationException("cancelled before step " + (i + 1) + " of " + n);
            long t0 = System.nanoTime();
            int step = i + 1;
            Consumer<Tensor> raw = progress.wantsModelOutput() ? out -> progress.modelOutput(step, out) : null;
            latents = steps.step(i, latents, raw);
            progress.step(step, n, (System.nanoTime() - t0) / 1e9, latents);
        }
        return latents;
    }
}
