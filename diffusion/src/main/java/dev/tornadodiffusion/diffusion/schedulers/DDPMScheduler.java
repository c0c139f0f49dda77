package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.diffusion.NoiseSource;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * Denoising diffusion probabilistic models (Ho et al. 2020): ancestral sampling that adds fresh noise on every step
 * with t > 0 ({@code DDPMScheduler}, variance types fixed_small, fixed_small_log and fixed_large).
 */
public final class DDPMScheduler extends AbstractScheduler {
    private final String varianceType;
    private final PredictionType predictionType;
    private final TimestepSpacing timestepSpacing;
    private final SampleClipping clipping;

    public DDPMScheduler(SchedulerConfig config) {
        super(config, BetaSchedule.Kind.LINEAR, 0.0001, 0.02, true);
        this.varianceType = config.getChoice("variance_type", "fixed_small", "fixed_small", "fixed_small_log", "fixed_large");
        this.predictionType = predictionType(PredictionType.EPSILON, PredictionType.SAMPLE, PredictionType.V_PREDICTION);
        this.timestepSpacing = timestepSpacing(TimestepSpacing.LEADING);
        this.clipping = SampleClipping.read(config, true);
    }

    @Override
    public void setTimesteps(int n) {
        checkInferenceSteps(n);
        numInferenceSteps = n;
        setSchedule(spacedTimesteps(timestepSpacing, n, true), DType.I64);
    }


    private double previousTimestep(double t) {
        return t - numTrainTimesteps / numInferenceSteps;
    }

    @Override
    public SchedulerOutput step(Tensor modelOutput, double timestep, Tensor sample, NoiseSource generator) {
        requireTimesteps();
        checkSameShape(modelOutput, sample, "DDPMScheduler.step");
        double t = timestep, prevT = previousTimestep(t);
        float alphaProdT = alphaCumprodAt(t);
        float alphaProdTPrev = prevT >= 0 ? alphaCumprodAt(prevT) : 1f;
        float betaProdT = 1 - alphaProdT;
        float betaProdTPrev = 1 - alphaProdTPrev;
        float currentAlphaT = alphaProdT / alphaProdTPrev;
        float currentBetaT = 1 - currentAlphaT;

        float[] x = values(sample), e = values(modelOutput);
        int n = x.length;
        float sqrtAlpha = sqrt(alphaProdT), sqrtBeta = sqrt(betaProdT);
        float[] x0 = predictX0(predictionType, sqrtAlpha, sqrtBeta, x, e);
        x0 = clipping.apply(x0, sample.dim(0));

        float x0Coeff = sqrt(alphaProdTPrev) * currentBetaT / betaProdT;
        float sampleCoeff = sqrt(currentAlphaT) * betaProdTPrev / betaProdT;
        float[] prev = new float[n];
        for (int i = 0; i < n; i++) prev[i] = x0Coeff * x0[i] + sampleCoeff * x[i];

        if (t > 0) {
            float[] noise = values(generator.randn(modelOutput.shape()));
            float variance = (1 - alphaProdTPrev) / (1 - alphaProdT) * currentBetaT;
            variance = Math.max(variance, (float) 1e-20);
            float std = switch (varianceType) {
                case "fixed_small" -> sqrt(variance);
                case "fixed_small_log" -> TorchFloatMath.exp(0.5f * TorchFloatMath.log(variance));
                default -> sqrt(currentBetaT);
            };
            for (int i = 0; i < n; i++) prev[i] = prev[i] + std * noise[i];
        }
        return new SchedulerOutput(Tensor.of(prev, sample.shape()), Tensor.of(x0, sample.shape()));
    }

    @Override
    public Tensor addNoise(Tensor original, Tensor noise, Tensor timesteps) {
        return addNoiseWithAlphas(original, noise, timesteps);
    }
}
