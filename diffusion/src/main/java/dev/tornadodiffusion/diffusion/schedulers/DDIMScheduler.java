package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.diffusion.NoiseSource;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * Denoising diffusion implicit models (Song et al. 2020, formulas 12 and 16): deterministic for eta = 0 (the
 * pipelines' default); {@link #setEta} adds the stochastic part.
 */
public final class DDIMScheduler extends AbstractScheduler {
    private final PredictionType predictionType;
    private final TimestepSpacing timestepSpacing;
    private final SampleClipping clipping;
    private final float finalAlphaCumprod;
    private double eta;

    public DDIMScheduler(SchedulerConfig config) {
        super(config, BetaSchedule.Kind.LINEAR, 0.0001, 0.02, true);
        this.predictionType = predictionType(PredictionType.EPSILON, PredictionType.SAMPLE, PredictionType.V_PREDICTION);
        this.timestepSpacing = timestepSpacing(TimestepSpacing.LEADING);
        this.clipping = SampleClipping.read(config, true);
        this.finalAlphaCumprod = config.getBoolean("set_alpha_to_one", true) ? 1f : alphasCumprod[0];
    }

    /** The {@code eta} passed to every {@code step} (η of the DDIM paper; 0 = deterministic). */
    public void setEta(double eta) {
        this.eta = eta;
    }

    @Override
    public void setTimesteps(int n) {
        checkInferenceSteps(n);
        numInferenceSteps = n;
        setSchedule(spacedTimesteps(timestepSpacing, n, true), DType.I64);
    }


    @Override
    public SchedulerOutput step(Tensor modelOutput, double timestep, Tensor sample, NoiseSource generator) {
        requireTimesteps();
        checkSameShape(modelOutput, sample, "DDIMScheduler.step");
        double prevTimestep = timestep - numTrainTimesteps / numInferenceSteps;
        float alphaProdT = alphaCumprodAt(timestep);
        float alphaProdTPrev = prevTimestep >= 0 ? alphaCumprodAt(prevTimestep) : finalAlphaCumprod;
        float betaProdT = 1 - alphaProdT;
        float sqrtAlpha = sqrt(alphaProdT), sqrtBeta = sqrt(betaProdT);

        float[] x = values(sample), e = values(modelOutput);
        int n = x.length;
        float[] x0 = predictX0(predictionType, sqrtAlpha, sqrtBeta, x, e), eps = predictNoise(predictionType, sqrtAlpha, sqrtBeta, x, e);
        x0 = clipping.apply(x0, sample.dim(0));

        // sigma_t = eta * sqrt((1 - a_prev) / (1 - a_t)) * sqrt(1 - a_t / a_prev)
        float variance = ((1 - alphaProdTPrev) / betaProdT) * (1 - alphaProdT / alphaProdTPrev);
        float stdDevT = (float) eta * sqrt(variance);
        float direction = sqrt(1 - alphaProdTPrev - stdDevT * stdDevT);
        float sqrtAlphaPrev = sqrt(alphaProdTPrev);
        float[] prev = new float[n];
        for (int i = 0; i < n; i++) prev[i] = sqrtAlphaPrev * x0[i] + direction * eps[i];
        if (eta > 0) {
            float[] noise = values(generator.randn(modelOutput.shape()));
            for (int i = 0; i < n; i++) prev[i] = prev[i] + stdDevT * noise[i];
        }
        return new SchedulerOutput(Tensor.of(prev, sample.shape()), Tensor.of(x0, sample.shape()));
    }

    @Override
    public Tensor addNoise(Tensor original, Tensor noise, Tensor timesteps) {
        return addNoiseWithAlphas(original, noise, timesteps);
    }
}
