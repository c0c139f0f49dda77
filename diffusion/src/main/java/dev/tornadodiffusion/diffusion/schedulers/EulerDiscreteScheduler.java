package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.diffusion.NoiseSource;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * Euler's method on the probability-flow ODE in sigma space (Karras et al. 2022, Algorithm 2 with s_churn = 0).
 * Like diffusers, every step draws one noise tensor from the generator even though s_churn = 0 discards it, so
 * the generator stream advances as upstream.
 */
public final class EulerDiscreteScheduler extends SigmaScheduler {
    private final PredictionType predictionType;
    private final String interpolationType;
    private final boolean useKarrasSigmas;
    private final double sigmaMin, sigmaMax;
    private final boolean continuousTimesteps;

    public EulerDiscreteScheduler(SchedulerConfig config) {
        super(config, BetaSchedule.Kind.LINEAR, 0.0001, 0.02, true);
        this.predictionType = predictionType(PredictionType.EPSILON, PredictionType.V_PREDICTION, PredictionType.SAMPLE, PredictionType.ORIGINAL_SAMPLE);
        this.interpolationType = config.getChoice("interpolation_type", "linear", "linear", "log_linear");
        this.useKarrasSigmas = config.getBoolean("use_karras_sigmas", false);
        this.sigmaMin = config.getDouble("sigma_min", Double.NaN);
        this.sigmaMax = config.getDouble("sigma_max", Double.NaN);
        this.continuousTimesteps = config.getChoice("timestep_type", "discrete", "discrete", "continuous").equals("continuous")
                && predictionType == PredictionType.V_PREDICTION;
        if (rescaleBetasZeroSnr) alphasCumprod[alphasCumprod.length - 1] = 0x1p-24f;
    }

    @Override
    public void setTimesteps(int n) {
        checkInferenceSteps(n);
        numInferenceSteps = n;
        double[] t = float32Timesteps(n);
        float[] trainSigmas = ScheduleMath.sigmas(alphasCumprod);
        double[] s;
        if (interpolationType.equals("linear")) {
            s = ScheduleMath.interp(t, trainSigmas);
        } else {
            float[] ll = ScheduleMath.torchLinspace(NumpyFloatMath.log(trainSigmas[trainSigmas.length - 1]), NumpyFloatMath.log(trainSigmas[0]), n + 1);
            s = new double[ll.length];
            for (int i = 0; i < ll.length; i++) s[i] = TorchFloatMath.exp(ll[i]);
        }
        if (useKarrasSigmas) {
            float[] logSigmas = ScheduleMath.log(trainSigmas);
            s = ScheduleMath.karras(s, sigmaMin, sigmaMax, n);
            t = new double[s.length];
            for (int i = 0; i < s.length; i++) t[i] = (float) ScheduleMath.sigmaToT(s[i], logSigmas);
        }
        float[] sig = new float[s.length + 1];
        for (int i = 0; i < s.length; i++) sig[i] = (float) s[i];
        if (continuousTimesteps) {
            t = new double[s.length];
            for (int i = 0; i < s.length; i++) t[i] = 0.25f * TorchFloatMath.log(sig[i]);
        }
        sigmas = sig;
        setSchedule(t, DType.F32);
    }

    @Override
    public SchedulerOutput step(Tensor modelOutput, double timestep, Tensor sample, NoiseSource generator) {
        checkSameShape(modelOutput, sample, "EulerDiscreteScheduler.step");
        startStep(timestep);
        float sigma = sigmas[stepIndex];
        // s_churn = 0: gamma = 0, so sigma_hat = sigma and the noise is discarded, but drawn
        if (generator != null) generator.randn(modelOutput.shape());
        float[] x = values(sample), e = values(modelOutput);
        float[] x0 = predictOriginal(predictionType, sigma, x, e);
        float dt = sigmas[stepIndex + 1] - sigma;
        float[] prev = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            float derivative = (x[i] - x0[i]) / sigma;
            prev[i] = x[i] + derivative * dt;
        }
        stepIndex++;
        return new SchedulerOutput(Tensor.of(prev, sample.shape()), Tensor.of(x0, sample.shape()));
    }
}
