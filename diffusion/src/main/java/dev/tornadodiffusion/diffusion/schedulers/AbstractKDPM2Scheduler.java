package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * What KDPM2 and KDPM2 ancestral share (k-diffusion's {@code sample_dpm_2}): a two-stage step whose first stage
 * is an Euler step to an interpolated noise level {@code sigma_interpol} and whose second stage takes the slope
 * there for the full step. The schedule holds every timestep but the first twice, interleaved with the
 * interpolated one: {@code [t0, ti0, t1, ti1, t2, ...]}, 2n-1 model calls for n steps; {@code sigmas} and
 * {@code sigmas_interpol} are laid out as {@code [s0, s1, s1, ..., sn, sn, sn]}.
 */
abstract class AbstractKDPM2Scheduler extends SigmaScheduler {
    final PredictionType predictionType;
    private final boolean useKarrasSigmas;
    /** {@code sigmas_interpol}, laid out like {@link #sigmas}. */
    float[] sigmasInterpol = new float[0];
    /** The sample the current two-stage step started from; null in the first stage ({@code state_in_first_order}). */
    float[] firstStageSample;

    AbstractKDPM2Scheduler(SchedulerConfig config) {
        super(config, BetaSchedule.Kind.LINEAR, 0.00085, 0.012, false);
        this.predictionType = predictionType(PredictionType.EPSILON, PredictionType.V_PREDICTION);
        this.useKarrasSigmas = config.getBoolean("use_karras_sigmas", false);
    }

    /**
     * The interpolated noise levels of the n+1 sigmas (the last 0), float32 as torch computes them; the
     * subclass keeps whatever else it derives from them.
     */
    abstract float[] interpolatedSigmas(float[] sigmas);

    /** Where the n-1 interpolated timesteps start in {@link #interpolatedSigmas}: they are {@code ti[offset : offset + n - 1]}. */
    abstract int interpolatedTimestepOffset();

    /** The sigma {@code scale_model_input} divides by at the current step index. */
    abstract float inputSigma();

    @Override
    public int order() {
        return 2;
    }

    @Override
    public void setTimesteps(int n) {
        checkInferenceSteps(n);
        numInferenceSteps = n;
        double[] t = float32Timesteps(n);
        float[] trainSigmas = ScheduleMath.sigmas(alphasCumprod);
        float[] logSigmas = ScheduleMath.log(trainSigmas);
        double[] s = ScheduleMath.interp(t, trainSigmas);
        DType dtype = DType.F32;
        if (useKarrasSigmas) {
            s = ScheduleMath.karras(s, Double.NaN, Double.NaN, n);
            t = new double[n];
            for (int i = 0; i < n; i++) t[i] = Math.rint(ScheduleMath.sigmaToT(s[i], logSigmas));
            dtype = DType.F64; // the rounded float64 numpy array
        }
        float[] sig = new float[n + 1];
        for (int i = 0; i < n; i++) sig[i] = (float) s[i];
        float[] interpol = interpolatedSigmas(sig);

        double[] ts = new double[2 * n - 1];
        ts[0] = t[0];
        for (int i = 1; i < n; i++) {
            ts[2 * i - 1] = ScheduleMath.sigmaToTFloat32(interpol[i - 1 + interpolatedTimestepOffset()], logSigmas);
            ts[2 * i] = t[i];
        }
        sigmas = interleave(sig);
        sigmasInterpol = interleave(interpol);
        setSchedule(ts, dtype);
        firstStageSample = null;
    }

    /** {@code cat([a[:1], a[1:].repeat_interleave(2), a[-1:]])}. */
    static float[] interleave(float[] a) {
        int n = a.length - 1;
        float[] out = new float[2 * n + 2];
        out[0] = a[0];
        for (int i = 1; i <= n; i++) out[2 * i - 1] = out[2 * i] = a[i];
        out[2 * n + 1] = a[n];
        return out;
    }

    /** {@code exp(lerp(log a, log b, 0.5))} in float32 torch ops: the geometric mean, 0 where either is 0. */
    static float geometricMean(float a, float b) {
        float self = TorchFloatMath.log(a), end = TorchFloatMath.log(b);
        return TorchFloatMath.exp(end - (end - self) * 0.5f); // torch.lerp with weight >= 0.5
    }

    boolean inFirstStage() {
        return firstStageSample == null;
    }

    /**
     * One stage of k-diffusion's DPM-2 at {@code x} with the model output {@code e}: the first stage is an Euler step
     * from {@code sigma} to {@code sigmaInterpol} that remembers {@code x}; the second steps from the remembered
     * sample to {@code sigmaTarget} with the slope the model gave at {@code sigmaInterpol}.
     */
    float[] dpm2Stage(float[] x, float[] e, float sigma, float sigmaInterpol, float sigmaTarget) {
        boolean first = inFirstStage();
        // 1. the clean-sample estimate at the noise level the model saw
        float[] x0 = predictOriginal(predictionType, first ? sigma : sigmaInterpol, x, e);
        int n = x.length;
        float[] prev = new float[n];
        if (first) {
            // 2a. Euler to the interpolated sigma, remembering where the step started
            float dt = sigmaInterpol - sigma;
            for (int i = 0; i < n; i++) prev[i] = x[i] + (x[i] - x0[i]) / sigma * dt;
            firstStageSample = x.clone();
        } else {
            // 2b. the full step from the remembered sample with the midpoint's slope
            float dt = sigmaTarget - sigma;
            for (int i = 0; i < n; i++) prev[i] = firstStageSample[i] + (x[i] - x0[i]) / sigmaInterpol * dt;
            firstStageSample = null;
        }
        return prev;
    }

    @Override
    public Tensor scaleModelInput(Tensor sample, double timestep) {
        startStep(timestep);
        float sigma = inputSigma();
        float scale = sqrt(sigma * sigma + 1);
        float[] x = values(sample);
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) out[i] = x[i] / scale;
        return Tensor.of(out, sample.shape());
    }
}
