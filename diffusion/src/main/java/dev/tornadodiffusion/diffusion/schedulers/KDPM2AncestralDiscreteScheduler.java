package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.diffusion.NoiseSource;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * Ancestral DPM-Solver-2 (k-diffusion's {@code sample_dpm_2_ancestral}, "DPM2 a" in A1111): the two-stage step of
 * {@link KDPM2DiscreteScheduler} aimed at sigma_down, then fresh noise of size sigma_up, with
 * sigma_down^2 + sigma_up^2 = sigma_next^2. Like diffusers, every call draws a noise tensor, also the first stage
 * that does not use it, so the generator stream advances as upstream.
 */
public final class KDPM2AncestralDiscreteScheduler extends AbstractKDPM2Scheduler {
    private float[] sigmasUp = new float[0], sigmasDown = new float[0];

    public KDPM2AncestralDiscreteScheduler(SchedulerConfig config) {
        super(config);
    }

    /** Between each sigma and its sigma_down; the last two are 0. Also keeps sigma_up / sigma_down. */
    @Override
    float[] interpolatedSigmas(float[] sigmas) {
        int n = sigmas.length;
        float[] up = new float[n], down = new float[n], out = new float[n];
        for (int i = 0; i < n; i++) {
            float s = sigmas[i], next = i + 1 < n ? sigmas[i + 1] : 0f;
            float s2 = s * s, next2 = next * next;
            up[i] = sqrt(next2 * (s2 - next2) / s2);
            down[i] = i == n - 1 ? 0f : sqrt(next2 - up[i] * up[i]);
            out[i] = i >= n - 2 ? 0f : geometricMean(s, down[i]);
        }
        sigmasUp = interleave(up);
        sigmasDown = interleave(down);
        return out;
    }

    @Override
    int interpolatedTimestepOffset() {
        return 0;
    }

    @Override
    float inputSigma() {
        return inFirstStage() ? sigmas[stepIndex] : sigmasInterpol[stepIndex - 1];
    }

    @Override
    public SchedulerOutput step(Tensor modelOutput, double timestep, Tensor sample, NoiseSource generator) {
        checkSameShape(modelOutput, sample, "KDPM2AncestralDiscreteScheduler.step");
        startStep(timestep);
        boolean first = inFirstStage();
        int i0 = first ? stepIndex : stepIndex - 1;
        float sigma = sigmas[i0], sigmaInterpol = sigmasInterpol[i0], sigmaUp = sigmasUp[i0];
        float[] noise = values(generator.randn(modelOutput.shape()));
        // the second stage aims at sigma_down, then adds noise up to sigma_next
        float[] prev = dpm2Stage(values(sample), values(modelOutput), sigma, sigmaInterpol, first ? Float.NaN : sigmasDown[stepIndex - 1]);
        if (!first) for (int i = 0; i < prev.length; i++) prev[i] += noise[i] * sigmaUp;
        stepIndex++;
        return new SchedulerOutput(Tensor.of(prev, sample.shape()), null);
    }
}
