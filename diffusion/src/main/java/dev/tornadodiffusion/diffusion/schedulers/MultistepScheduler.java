package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.Optional;

/**
 * The exponential-integrator multistep solvers (DPM-Solver, UniPC): they work with sigma, alpha_t = 1/sqrt(sigma^2+1),
 * sigma_t = sigma * alpha_t and the half log-SNR lambda = log(alpha_t) - log(sigma_t), keep the last
 * {@code solver_order} converted model outputs, and need no input scaling (init_noise_sigma = 1).
 */
abstract class MultistepScheduler extends AbstractScheduler {
    final int solverOrder;
    final PredictionType predictionType;
    final SampleClipping clipping;
    final boolean lowerOrderFinal;
    final boolean useKarrasSigmas;
    final TimestepSpacing timestepSpacing;

    /** float32, one per timestep plus the final sigma. */
    float[] sigmas = new float[0];
    /** The last solver_order converted model outputs, oldest first (null before they exist). */
    float[][] modelOutputs;
    int lowerOrderNums;

    MultistepScheduler(SchedulerConfig config, boolean rescaleSupported) {
        this(config, rescaleSupported, true);
    }

    MultistepScheduler(SchedulerConfig config, boolean rescaleSupported, boolean defaultLowerOrderFinal) {
        super(config, BetaSchedule.Kind.LINEAR, 0.0001, 0.02, rescaleSupported);
        this.solverOrder = config.getInt("solver_order", 2);
        if (solverOrder < 1) throw config.invalid("solver_order", "must be at least 1");
        this.predictionType = predictionType(PredictionType.EPSILON, PredictionType.SAMPLE, PredictionType.V_PREDICTION);
        this.clipping = SampleClipping.read(config, null);
        this.lowerOrderFinal = config.getBoolean("lower_order_final", defaultLowerOrderFinal);
        this.useKarrasSigmas = config.getBoolean("use_karras_sigmas", false);
        this.timestepSpacing = timestepSpacing(TimestepSpacing.LINSPACE);
        this.modelOutputs = new float[solverOrder][];
    }

    /** Resets the solver history for a new run. */
    void resetHistory() {
        modelOutputs = new float[solverOrder][];
        lowerOrderNums = 0;
    }

    /** Appends the newest converted model output, dropping the oldest. */
    void pushModelOutput(float[] m) {
        System.arraycopy(modelOutputs, 1, modelOutputs, 0, solverOrder - 1);
        modelOutputs[solverOrder - 1] = m;
    }

    /** {@code model_outputs[-k]} (k = 1: newest). */
    float[] modelOutput(int k) {
        return modelOutputs[solverOrder - k];
    }

    /** Karras sigmas over the training range (largest first) and the rounded timesteps they map to. */
    double[][] karrasSchedule(float[] trainSigmas, int n) {
        double[] flipped = new double[trainSigmas.length];
        for (int i = 0; i < flipped.length; i++) flipped[i] = trainSigmas[trainSigmas.length - 1 - i];
        double[] s = ScheduleMath.karras(flipped, Double.NaN, Double.NaN, n);
        return new double[][]{s, timestepsForSigmas(s, ScheduleMath.log(trainSigmas))};
    }

    /**
     * The schedule of UniPC and DEIS: the configured spacing over the training range with the interpolated sigmas
     * ending in sigma_min, or Karras sigmas ending in their own last value.
     */
    void setSpacedOrKarrasSchedule(int n) {
        double[] t = multistepTimesteps(timestepSpacing, numTrainTimesteps, n);
        float[] trainSigmas = ScheduleMath.sigmas(alphasCumprod);
        float[] sig;
        if (useKarrasSigmas) {
            double[][] st = karrasSchedule(trainSigmas, n);
            t = st[1];
            sig = new float[st[0].length + 1];
            for (int i = 0; i < st[0].length; i++) sig[i] = (float) st[0][i];
            sig[st[0].length] = sig[st[0].length - 1];
        } else {
            double[] s = ScheduleMath.interp(t, trainSigmas);
            sig = new float[s.length + 1];
            for (int i = 0; i < s.length; i++) sig[i] = (float) s[i];
            sig[s.length] = sqrt((1 - alphasCumprod[0]) / alphasCumprod[0]);
        }
        sigmas = sig;
        numInferenceSteps = t.length;
        setSchedule(t, DType.I64);
        resetHistory();
    }

    /**
     * {@code searchsorted(flip(lambda_t), lambda_min_clipped)}: how many of the last training timesteps have a
     * log-SNR below the clip and are left out of the schedule.
     */
    int lambdaClippedCount(double lambdaMinClipped) {
        int clipped = 0;
        for (int i = alphasCumprod.length - 1; i >= 0; i--) {
            float lambda = log(sqrt(alphasCumprod[i])) - log(sqrt(1 - alphasCumprod[i]));
            if (lambda >= lambdaMinClipped) break;
            clipped++;
        }
        return clipped;
    }

    /**
     * The first-order DPM-Solver step (DDIM in log-SNR time) from sigmas[stepIndex] to sigmas[stepIndex + 1], with
     * {@code m} the x0 prediction ({@code dataPrediction}, DPM-Solver++) or the noise prediction (DPM-Solver, DEIS).
     */
    float[] firstOrderUpdate(boolean dataPrediction, float[] m, float[] x) {
        float sigmaNext = sigmas[stepIndex + 1], sigmaCur = sigmas[stepIndex];
        float alphaT = alphaT(sigmaNext), sigmaT = sigmaNext * alphaT;
        float alphaS = alphaT(sigmaCur), sigmaS = sigmaCur * alphaS;
        float h = (log(alphaT) - log(sigmaT)) - (log(alphaS) - log(sigmaS));
        return dataPrediction
                ? combine(new float[]{sigmaT / sigmaS, -(alphaT * (exp(-h) - 1f))}, x, m)
                : combine(new float[]{alphaT / alphaS, -(sigmaT * (exp(h) - 1f))}, x, m);
    }

    static double[] timestepsForSigmas(double[] s, float[] logSigmas) {
        double[] t = new double[s.length];
        for (int i = 0; i < s.length; i++) t[i] = Math.rint(ScheduleMath.sigmaToT(s[i], logSigmas));
        return t;
    }

    @Override
    public Optional<Tensor> sigmas() {
        return Optional.of(Tensor.of(sigmas.clone(), sigmas.length));
    }

    /** The solvers map a timestep that is not in the schedule to the last step. */
    @Override
    int missingTimestepIndex(double t) {
        return timesteps.length - 1;
    }

    @Override
    public Tensor addNoise(Tensor original, Tensor noise, Tensor timesteps) {
        int[] idx = addNoiseStepIndices(timesteps);
        float[] a = new float[idx.length], s = new float[idx.length];
        for (int b = 0; b < idx.length; b++) {
            a[b] = alphaT(sigmas[idx[b]]);
            s[b] = sigmas[idx[b]] * a[b];
        }
        return mixPerBatch(original, noise, a, s);
    }

    /** {@code _sigma_to_alpha_sigma_t}: alpha_t = 1 / sqrt(sigma^2 + 1). */
    static float alphaT(float sigma) {
        return 1f / sqrt(sigma * sigma + 1);
    }

    /** lambda = log(alpha_t) - log(sigma_t) for noise level {@code sigma} (float32 torch ops). */
    static float lambda(float sigma) {
        float alpha = alphaT(sigma);
        return log(alpha) - log(sigma * alpha);
    }

    static float log(float x) {
        return TorchFloatMath.log(x);
    }

    static float exp(float x) {
        return TorchFloatMath.exp(x);
    }

    /** {@code c[0]*t[0] + c[1]*t[1] + ...} per element, summed left to right in float32. */
    static float[] combine(float[] c, float[]... t) {
        int n = t[0].length;
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            float acc = c[0] * t[0][i];
            for (int k = 1; k < t.length; k++) acc = acc + c[k] * t[k][i];
            out[i] = acc;
        }
        return out;
    }

    /** {@code c * (a - b)} per element. */
    static float[] scaledDifference(float c, float[] a, float[] b) {
        float[] out = new float[a.length];
        for (int i = 0; i < a.length; i++) out[i] = c * (a[i] - b[i]);
        return out;
    }
}
