package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.diffusion.NoiseSource;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * DPM-Solver-2 in k-diffusion's form ("DPM2" in A1111): each step evaluates the model at sigma_i and at the
 * geometric mean of sigma_i and sigma_{i+1}, and takes the full step with the midpoint's slope. Deterministic.
 */
public final class KDPM2DiscreteScheduler extends AbstractKDPM2Scheduler {

    public KDPM2DiscreteScheduler(SchedulerConfig config) {
        super(config);
    }

    /** {@code sigmas.log().lerp(sigmas.roll(1).log(), 0.5).exp()}: between each sigma and the one before it. */
    @Override
    float[] interpolatedSigmas(float[] sigmas) {
        int n = sigmas.length;
        float[] out = new float[n];
        for (int i = 0; i < n; i++) out[i] = geometricMean(sigmas[i], sigmas[(i + n - 1) % n]);
        return out;
    }

    @Override
    int interpolatedTimestepOffset() {
        return 1;
    }

    @Override
    float inputSigma() {
        return inFirstStage() ? sigmas[stepIndex] : sigmasInterpol[stepIndex];
    }

    @Override
    public SchedulerOutput step(Tensor modelOutput, double timestep, Tensor sample, NoiseSource generator) {
        checkSameShape(modelOutput, sample, "KDPM2DiscreteScheduler.step");
        startStep(timestep);
        boolean first = inFirstStage();
        float sigma = first ? sigmas[stepIndex] : sigmas[stepIndex - 1];
        float sigmaInterpol = first ? sigmasInterpol[stepIndex + 1] : sigmasInterpol[stepIndex];
        float sigmaNext = first ? sigmas[stepIndex + 1] : sigmas[stepIndex];
        float[] prev = dpm2Stage(values(sample), values(modelOutput), sigma, sigmaInterpol, sigmaNext);
        stepIndex++;
        return new SchedulerOutput(Tensor.of(prev, sample.shape()), null);
    }
}
