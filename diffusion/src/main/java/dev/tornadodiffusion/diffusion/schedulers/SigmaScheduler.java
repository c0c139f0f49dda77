package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.tensor.Tensor;

import java.util.Optional;

/**
 * The k-diffusion style schedulers (Euler, Euler ancestral, Heun): samples live at noise level sigma, so the
 * initial noise is scaled by the largest sigma, the model input by {@code 1 / sqrt(sigma^2 + 1)}, and
 * {@code add_noise} is {@code original + sigma * noise}. Timesteps are float32 training timesteps.
 */
abstract class SigmaScheduler extends AbstractScheduler {
    final TimestepSpacing timestepSpacing;
    /** float32, one per timestep plus the final 0. */
    float[] sigmas = new float[0];

    SigmaScheduler(SchedulerConfig config, BetaSchedule.Kind defaultBetaSchedule, double defaultBetaStart, double defaultBetaEnd,
                         boolean rescaleSupported) {
        super(config, defaultBetaSchedule, defaultBetaStart, defaultBetaEnd, rescaleSupported);
        this.timestepSpacing = timestepSpacing(TimestepSpacing.LINSPACE);
    }

    /** The float32 timesteps of the configured spacing (float64 values rounded to float32 as upstream does). */
    double[] float32Timesteps(int n) {
        double[] t = spacedTimesteps(timestepSpacing, n, false);
        for (int i = 0; i < t.length; i++) t[i] = (float) t[i];
        return t;
    }

    @Override
    public Optional<Tensor> sigmas() {
        return Optional.of(Tensor.of(sigmas.clone(), sigmas.length));
    }

    /** {@code sigmas.max()} for linspace / trailing spacing, else {@code sqrt(max^2 + 1)}. */
    @Override
    public float initNoiseSigma() {
        requireTimesteps();
        float max = Float.NEGATIVE_INFINITY;
        for (float s : sigmas) max = Math.max(max, s);
        if (timestepSpacing == TimestepSpacing.LINSPACE || timestepSpacing == TimestepSpacing.TRAILING) return max;
        return sqrt(max * max + 1);
    }

    @Override
    public Tensor scaleModelInput(Tensor sample, double timestep) {
        startStep(timestep);
        float sigma = sigmas[stepIndex];
        float scale = sqrt(sigma * sigma + 1);
        float[] x = values(sample);
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) out[i] = x[i] / scale;
        return Tensor.of(out, sample.shape());
    }

    @Override
    public Tensor addNoise(Tensor original, Tensor noise, Tensor timesteps) {
        int[] idx = addNoiseStepIndices(timesteps);
        float[] one = new float[idx.length], sigma = new float[idx.length];
        for (int b = 0; b < idx.length; b++) {
            one[b] = 1;
            sigma[b] = sigmas[idx[b]];
        }
        return mixPerBatch(original, noise, one, sigma);
    }

    /** Upstream's x0 estimate for epsilon and v prediction at noise level {@code sigma}. */
    static float[] predictOriginal(PredictionType predictionType, float sigma, float[] x, float[] e) {
        int n = x.length;
        float[] x0 = new float[n];
        switch (predictionType) {
            case EPSILON -> { for (int i = 0; i < n; i++) x0[i] = x[i] - sigma * e[i]; }
            case V_PREDICTION -> {
                float c = -sigma / sqrt(sigma * sigma + 1);
                float d = sigma * sigma + 1;
                for (int i = 0; i < n; i++) x0[i] = e[i] * c + x[i] / d;
            }
            default -> System.arraycopy(e, 0, x0, 0, n);
        }
        return x0;
    }
}
