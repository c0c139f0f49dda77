package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.diffusion.NoiseSource;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * Heun's second-order method (Karras et al. 2022, Algorithm 1 without churn). Every timestep but the first appears
 * twice, so a run of n steps calls the model and {@link #step} 2n-1 times: an Euler predictor, then a corrector that
 * averages the two slopes.
 */
public final class HeunDiscreteScheduler extends SigmaScheduler {
    private final PredictionType predictionType;
    private final boolean useKarrasSigmas;
    private final boolean clipSample;
    private final float clipSampleRange;
    // state between the predictor and corrector calls (null / NaN: next call is a first-order one)
    private float[] prevDerivative;
    private float dt = Float.NaN;
    private float[] firstSample;

    public HeunDiscreteScheduler(SchedulerConfig config) {
        super(config, BetaSchedule.Kind.LINEAR, 0.00085, 0.012, false);
        this.predictionType = predictionType(PredictionType.EPSILON, PredictionType.V_PREDICTION, PredictionType.SAMPLE);
        this.useKarrasSigmas = config.getBoolean("use_karras_sigmas", false);
        this.clipSample = config.getBoolean("clip_sample", false);
        this.clipSampleRange = (float) config.getDouble("clip_sample_range", 1.0);
    }

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
        double[] s = ScheduleMath.interp(t, trainSigmas);
        DType dtype = DType.F32;
        if (useKarrasSigmas) {
            float[] logSigmas = ScheduleMath.log(trainSigmas);
            s = ScheduleMath.karras(s, Double.NaN, Double.NaN, n);
            t = new double[s.length];
            for (int i = 0; i < s.length; i++) t[i] = ScheduleMath.sigmaToT(s[i], logSigmas);
            dtype = DType.F64; // upstream keeps the float64 numpy array here
        }
        // sigmas [s0, s1, s1, ..., s_{n-1}, s_{n-1}, 0], timesteps [t0, t1, t1, ..., t_{n-1}, t_{n-1}]
        float[] sig = new float[2 * n];
        double[] ts = new double[2 * n - 1];
        sig[0] = (float) s[0];
        ts[0] = t[0];
        for (int i = 1; i < n; i++) {
            sig[2 * i - 1] = sig[2 * i] = (float) s[i];
            ts[2 * i - 1] = ts[2 * i] = t[i];
        }
        sigmas = sig;
        setSchedule(ts, dtype);
        prevDerivative = null;
        dt = Float.NaN;
        firstSample = null;
    }

    private boolean stateInFirstOrder() {
        return Float.isNaN(dt);
    }

    @Override
    public SchedulerOutput step(Tensor modelOutput, double timestep, Tensor sample, NoiseSource generator) {
        checkSameShape(modelOutput, sample, "HeunDiscreteScheduler.step");
        startStep(timestep);
        boolean first = stateInFirstOrder();
        float sigma = first ? sigmas[stepIndex] : sigmas[stepIndex - 1];
        float sigmaNext = first ? sigmas[stepIndex + 1] : sigmas[stepIndex];
        float sigmaInput = first ? sigma : sigmaNext;
        float[] x = values(sample), e = values(modelOutput);
        float[] x0 = predictOriginal(predictionType, sigmaInput, x, e);
        if (clipSample) x0 = clamp(x0, clipSampleRange);

        int n = x.length;
        float[] prev = new float[n];
        if (first) {
            float[] derivative = new float[n];
            for (int i = 0; i < n; i++) derivative[i] = (x[i] - x0[i]) / sigma;
            float stepDt = sigmaNext - sigma;
            for (int i = 0; i < n; i++) prev[i] = x[i] + derivative[i] * stepDt;
            prevDerivative = derivative;
            dt = stepDt;
            firstSample = x.clone();
        } else {
            for (int i = 0; i < n; i++) {
                float derivative = (x[i] - x0[i]) / sigmaNext;
                derivative = (prevDerivative[i] + derivative) / 2;
                prev[i] = firstSample[i] + derivative * dt;
            }
            prevDerivative = null;
            dt = Float.NaN;
            firstSample = null;
        }
        stepIndex++;
        return new SchedulerOutput(Tensor.of(prev, sample.shape()), null);
    }
}
