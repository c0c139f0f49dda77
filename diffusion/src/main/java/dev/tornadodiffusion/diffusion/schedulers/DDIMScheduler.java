package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.diffusion.NoiseSource;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * Denoising diffusion implicit models (Song et al. 2020, formulas 12 and 16): deterministic for eta = 0 (the
 * pipelines' default); {@link #setEta} adds the stochastic part.
 */
public final class DDIMScheduler extends AbstractScheduler {
    private final String predictionType;
    private final String timestepSpacing;
    private final boolean clipSample;
    private final float clipSampleRange;
    private final boolean thresholding;
    private final double dynamicThresholdingRatio;
    private final double sampleMaxValue;
    private final float finalAlphaCumprod;
    private double eta;

    public DDIMScheduler(SchedulerConfig config) {
        super(config, "linear", 0.0001, 0.02, true);
        this.predictionType = predictionType("epsilon", "sample", "v_prediction");
        this.timestepSpacing = timestepSpacing("leading");
        this.clipSample = config.getBoolean("clip_sample", true);
        this.clipSampleRange = (float) config.getDouble("clip_sample_range", 1.0);
        this.thresholding = config.getBoolean("thresholding", false);
        this.dynamicThresholdingRatio = config.getDouble("dynamic_thresholding_ratio", 0.995);
        this.sampleMaxValue = config.getDouble("sample_max_value", 1.0);
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
    public float initNoiseSigma() {
        return 1f;
    }

    @Override
    public Tensor scaleModelInput(Tensor sample, double timestep) {
        return sample;
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
        float[] x0 = new float[n], eps = new float[n];
        switch (predictionType) {
            case "epsilon" -> {
                for (int i = 0; i < n; i++) x0[i] = (x[i] - sqrtBeta * e[i]) / sqrtAlpha;
                System.arraycopy(e, 0, eps, 0, n);
            }
            case "sample" -> {
                System.arraycopy(e, 0, x0, 0, n);
                for (int i = 0; i < n; i++) eps[i] = (x[i] - sqrtAlpha * x0[i]) / sqrtBeta;
            }
            default -> {
                for (int i = 0; i < n; i++) {
                    x0[i] = sqrtAlpha * x[i] - sqrtBeta * e[i];
                    eps[i] = sqrtAlpha * e[i] + sqrtBeta * x[i];
                }
            }
        }
        if (thresholding) x0 = thresholdSample(x0, sample.dim(0), dynamicThresholdingRatio, sampleMaxValue);
        else if (clipSample) x0 = clamp(x0, clipSampleRange);

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
