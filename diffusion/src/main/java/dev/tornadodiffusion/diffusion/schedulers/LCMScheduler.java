package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.diffusion.NoiseSource;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * Latent consistency models (Luo et al. 2023): multistep consistency sampling on a subset of the
 * {@code original_inference_steps} distillation schedule; each step predicts the clean sample ({@code denoised},
 * reported as {@link SchedulerOutput#predOriginalSample()}) and re-noises it to the next timestep, except the last.
 */
public final class LCMScheduler extends AbstractScheduler {
    private static final float SIGMA_DATA = 0.5f;

    private final int originalInferenceSteps;
    private final PredictionType predictionType;
    private final SampleClipping clipping;
    private final float timestepScaling;
    private final float finalAlphaCumprod;

    public LCMScheduler(SchedulerConfig config) {
        super(config, BetaSchedule.Kind.SCALED_LINEAR, 0.00085, 0.012, true);
        this.originalInferenceSteps = config.getInt("original_inference_steps", 50);
        this.predictionType = predictionType(PredictionType.EPSILON, PredictionType.SAMPLE, PredictionType.V_PREDICTION);
        this.clipping = SampleClipping.read(config, false);
        this.timestepScaling = (float) config.getDouble("timestep_scaling", 10.0);
        this.finalAlphaCumprod = config.getBoolean("set_alpha_to_one", true) ? 1f : alphasCumprod[0];
        if (originalInferenceSteps < 1 || originalInferenceSteps > numTrainTimesteps)
            throw config.invalid("original_inference_steps", "must be in [1, " + numTrainTimesteps + "], got " + originalInferenceSteps);
    }

    @Override
    public void setTimesteps(int n) {
        setTimesteps(n, 1.0);
    }

    /**
     * {@code set_timesteps(num_inference_steps, strength=strength)}: {@code n} timesteps evenly picked (floor of a
     * linspace without endpoint) from the distillation schedule {@code k-1, 2k-1, ...} reversed, which
     * {@code strength} (img2img) cuts to its first {@code int(original_inference_steps * strength)} entries.
     */
    public void setTimesteps(int n, double strength) {
        checkInferenceSteps(n);
        numInferenceSteps = n;
        setSchedule(distilledTimesteps(n, originalInferenceSteps, strength), DType.I64);
    }


    @Override
    public SchedulerOutput step(Tensor modelOutput, double timestep, Tensor sample, NoiseSource generator) {
        checkSameShape(modelOutput, sample, "LCMScheduler.step");
        startStep(timestep);
        int prevStepIndex = stepIndex + 1;
        double prevTimestep = prevStepIndex < timesteps.length ? timesteps[prevStepIndex] : timestep;
        float alphaProdT = alphaCumprodAt(timestep);
        float alphaProdTPrev = prevTimestep >= 0 ? alphaCumprodAt(prevTimestep) : finalAlphaCumprod;
        float betaProdT = 1 - alphaProdT;
        float betaProdTPrev = 1 - alphaProdTPrev;

        // boundary condition scalings: the int64 timestep times the float scaling is float32
        float scaled = (float) timestep * timestepScaling;
        float sigmaData2 = SIGMA_DATA * SIGMA_DATA;
        float cSkip = 1f / (scaled * scaled + sigmaData2) * sigmaData2;
        float cOut = scaled / sqrt(scaled * scaled + sigmaData2);

        float[] x = values(sample), e = values(modelOutput);
        int n = x.length;
        float sqrtAlpha = sqrt(alphaProdT), sqrtBeta = sqrt(betaProdT);
        float[] x0 = predictX0(predictionType, sqrtAlpha, sqrtBeta, x, e);
        x0 = clipping.apply(x0, sample.dim(0));

        float[] denoised = new float[n];
        for (int i = 0; i < n; i++) denoised[i] = cOut * x0[i] + cSkip * x[i];
        float[] prev = denoised;
        if (stepIndex != numInferenceSteps - 1) {
            float[] noise = values(generator.randn(modelOutput.shape()));
            float sqrtAlphaPrev = sqrt(alphaProdTPrev), sqrtBetaPrev = sqrt(betaProdTPrev);
            prev = new float[n];
            for (int i = 0; i < n; i++) prev[i] = sqrtAlphaPrev * denoised[i] + sqrtBetaPrev * noise[i];
        }
        stepIndex++;
        return new SchedulerOutput(Tensor.of(prev, sample.shape()), Tensor.of(denoised, sample.shape()));
    }

    @Override
    public Tensor addNoise(Tensor original, Tensor noise, Tensor timesteps) {
        return addNoiseWithAlphas(original, noise, timesteps);
    }
}
