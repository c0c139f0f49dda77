package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.diffusion.NoiseSource;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * Ancestral Euler sampling (k-diffusion's {@code sample_euler_ancestral}): an Euler step down to sigma_down, then
 * fresh noise of size sigma_up, so that sigma_down^2 + sigma_up^2 = sigma_next^2.
 */
public final class EulerAncestralDiscreteScheduler extends SigmaScheduler {
    private final PredictionType predictionType;

    public EulerAncestralDiscreteScheduler(SchedulerConfig config) {
        super(config, BetaSchedule.Kind.LINEAR, 0.0001, 0.02, true);
        this.predictionType = predictionType(PredictionType.EPSILON, PredictionType.V_PREDICTION);
        if (rescaleBetasZeroSnr) alphasCumprod[alphasCumprod.length - 1] = 0x1p-24f;
    }

    @Override
    public void setTimesteps(int n) {
        checkInferenceSteps(n);
        numInferenceSteps = n;
        double[] t = float32Timesteps(n);
        double[] s = ScheduleMath.interp(t, ScheduleMath.sigmas(alphasCumprod));
        float[] sig = new float[s.length + 1];
        for (int i = 0; i < s.length; i++) sig[i] = (float) s[i];
        sigmas = sig;
        setSchedule(t, DType.F32);
    }

    @Override
    public SchedulerOutput step(Tensor modelOutput, double timestep, Tensor sample, NoiseSource generator) {
        checkSameShape(modelOutput, sample, "EulerAncestralDiscreteScheduler.step");
        startStep(timestep);
        float sigma = sigmas[stepIndex];
        float[] x = values(sample), e = values(modelOutput);
        float[] x0 = predictOriginal(predictionType, sigma, x, e);

        float sigmaTo = sigmas[stepIndex + 1];
        float sigmaUp = sqrt(sigmaTo * sigmaTo * (sigma * sigma - sigmaTo * sigmaTo) / (sigma * sigma));
        float sigmaDown = sqrt(sigmaTo * sigmaTo - sigmaUp * sigmaUp);
        float dt = sigmaDown - sigma;
        float[] prev = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            float derivative = (x[i] - x0[i]) / sigma;
            prev[i] = x[i] + derivative * dt;
        }
        float[] noise = values(generator.randn(modelOutput.shape()));
        for (int i = 0; i < x.length; i++) prev[i] = prev[i] + noise[i] * sigmaUp;
        stepIndex++;
        return new SchedulerOutput(Tensor.of(prev, sample.shape()), Tensor.of(x0, sample.shape()));
    }
}
