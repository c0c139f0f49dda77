package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.diffusion.NoiseSource;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * Trajectory consistency distillation (Zheng et al. 2024), strategic stochastic sampling: each step predicts x0,
 * moves it to the intermediate timestep s = floor((1 - gamma) * t_prev) along the predicted noise
 * ({@code pred_noised_sample}), and re-noises that to t_prev with fresh noise of weight depending on gamma
 * ({@code eta}, 0.3 by default as {@code step()}'s own default; 0 makes it deterministic). The last step returns
 * the intermediate sample. {@link SchedulerOutput#predOriginalSample()} is the x0 prediction.
 */
public final class TCDScheduler extends AbstractScheduler {
    private final int originalInferenceSteps;
    private final PredictionType predictionType;
    private final float finalAlphaCumprod;
    private double eta = 0.3;

    public TCDScheduler(SchedulerConfig config) {
        super(config, BetaSchedule.Kind.SCALED_LINEAR, 0.00085, 0.012, true);
        this.originalInferenceSteps = config.getInt("original_inference_steps", 50);
        this.predictionType = predictionType(PredictionType.EPSILON, PredictionType.SAMPLE, PredictionType.V_PREDICTION);
        this.finalAlphaCumprod = config.getBoolean("set_alpha_to_one", true) ? 1f : alphasCumprod[0];
        if (originalInferenceSteps < 1 || originalInferenceSteps > numTrainTimesteps)
            throw config.invalid("original_inference_steps", "must be in [1, " + numTrainTimesteps + "], got " + originalInferenceSteps);
    }

    /** The {@code eta} (gamma) passed to every {@code step}, in [0, 1]. */
    public void setEta(double eta) {
        if (!(eta >= 0 && eta <= 1)) throw new IllegalArgumentException("TCDScheduler: eta (gamma) must be in [0, 1], got " + eta);
        this.eta = eta;
    }

    @Override
    public void setTimesteps(int n) {
        checkInferenceSteps(n);
        numInferenceSteps = n;
        setSchedule(distilledTimesteps(n, originalInferenceSteps, 1.0), DType.I64);
    }

    @Override
    public SchedulerOutput step(Tensor modelOutput, double timestep, Tensor sample, NoiseSource generator) {
        checkSameShape(modelOutput, sample, "TCDScheduler.step");
        startStep(timestep);
        double prevTimestep = stepIndex + 1 < timesteps.length ? timesteps[stepIndex + 1] : 0;
        // (1 - eta) * prev_timestep is a float32 tensor product, floored to an integer timestep
        long timestepS = (long) Math.floor((float) (1 - eta) * (float) prevTimestep);
        float alphaProdT = alphaCumprodAt(timestep);
        float betaProdT = 1 - alphaProdT;
        float alphaProdTPrev = prevTimestep >= 0 ? alphaCumprodAt(prevTimestep) : finalAlphaCumprod;
        float alphaProdS = alphaCumprodAt(timestepS);
        float betaProdS = 1 - alphaProdS;

        // 1. x0 and the noise from the model output
        float[] x = values(sample), e = values(modelOutput);
        int n = x.length;
        float sqrtAlpha = sqrt(alphaProdT), sqrtBeta = sqrt(betaProdT);
        float[] x0 = predictX0(predictionType, sqrtAlpha, sqrtBeta, x, e);
        float[] eps = predictNoise(predictionType, sqrtAlpha, sqrtBeta, x, e);
        // 2. the sample at the intermediate timestep s
        float sqrtAlphaS = sqrt(alphaProdS), sqrtBetaS = sqrt(betaProdS);
        float[] noised = new float[n];
        for (int i = 0; i < n; i++) noised[i] = sqrtAlphaS * x0[i] + sqrtBetaS * eps[i];
        // 3. re-noised from s to the previous timestep, except after the last step
        float[] prev = noised;
        if (eta > 0 && stepIndex != numInferenceSteps - 1) {
            float[] noise = values(generator.randn(modelOutput.shape()));
            float keep = sqrt(alphaProdTPrev / alphaProdS), add = sqrt(1 - alphaProdTPrev / alphaProdS);
            prev = new float[n];
            for (int i = 0; i < n; i++) prev[i] = keep * noised[i] + add * noise[i];
        }
        stepIndex++;
        return new SchedulerOutput(Tensor.of(prev, sample.shape()), Tensor.of(x0, sample.shape()), Tensor.of(noised, sample.shape()));
    }

    @Override
    public Tensor addNoise(Tensor original, Tensor noise, Tensor timesteps) {
        return addNoiseWithAlphas(original, noise, timesteps);
    }
}
