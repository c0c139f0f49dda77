package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.diffusion.NoiseSource;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * DPM-Solver and DPM-Solver++ multistep (Lu et al. 2022), orders 1-3, with the SDE variants: "DPM++ 2M" is
 * {@code algorithm_type dpmsolver++, solver_order 2}, "Karras" adds {@code use_karras_sigmas}. The first step is
 * first order (no history yet) and, with {@code final_sigmas_type "zero"} or {@code lower_order_final} on short
 * schedules, so is the last.
 */
public final class DPMSolverMultistepScheduler extends MultistepScheduler {
    private final String algorithmType;
    private final String solverType;
    private final boolean eulerAtFinal;
    private final boolean useLuLambdas;
    private final String finalSigmasType;
    private final double lambdaMinClipped;
    private final boolean learnedVariance;

    public DPMSolverMultistepScheduler(SchedulerConfig config) {
        super(config, true);
        String algorithm = config.getChoice("algorithm_type", "dpmsolver++", "dpmsolver", "dpmsolver++", "sde-dpmsolver", "sde-dpmsolver++", "deis");
        this.algorithmType = algorithm.equals("deis") ? "dpmsolver++" : algorithm;
        String solver = config.getChoice("solver_type", "midpoint", "midpoint", "heun", "logrho", "bh1", "bh2");
        this.solverType = solver.equals("heun") ? "heun" : "midpoint";
        this.eulerAtFinal = config.getBoolean("euler_at_final", false);
        this.useLuLambdas = config.getBoolean("use_lu_lambdas", false);
        this.finalSigmasType = config.getChoice("final_sigmas_type", "zero", "zero", "sigma_min");
        this.lambdaMinClipped = config.getDouble("lambda_min_clipped", Double.NEGATIVE_INFINITY);
        this.learnedVariance = config.getChoice("variance_type", null, "learned", "learned_range") != null;
        if (!algorithmType.endsWith("dpmsolver++") && finalSigmasType.equals("zero"))
            throw config.invalid("final_sigmas_type", "zero is not supported for algorithm_type " + algorithmType + "; use sigma_min");
        if (algorithmType.startsWith("sde") && solverOrder > 2)
            throw config.invalid("solver_order", "must be 1 or 2 for algorithm_type " + algorithmType);
        if (rescaleBetasZeroSnr) alphasCumprod[alphasCumprod.length - 1] = 0x1p-24f;
    }

    @Override
    public void setTimesteps(int n) {
        checkInferenceSteps(n);
        int clipped = lambdaClippedCount(lambdaMinClipped);
        double[] t = multistepTimesteps(timestepSpacing, numTrainTimesteps - clipped, n);
        float[] trainSigmas = ScheduleMath.sigmas(alphasCumprod);
        double[] s;
        if (useKarrasSigmas) {
            double[][] st = karrasSchedule(trainSigmas, n);
            s = st[0];
            t = st[1];
        } else if (useLuLambdas) {
            float[] logSigmas = ScheduleMath.log(trainSigmas);
            double lambdaMin = logSigmas[0], lambdaMax = logSigmas[logSigmas.length - 1];
            double[] ramp = ScheduleMath.linspace(0, 1, n);
            s = new double[n];
            for (int i = 0; i < n; i++) s[i] = Math.exp(lambdaMax + ramp[i] * (lambdaMin - lambdaMax));
            t = timestepsForSigmas(s, logSigmas);
        } else {
            s = ScheduleMath.interp(t, trainSigmas);
        }
        float sigmaLast = finalSigmasType.equals("sigma_min") ? sqrt((1 - alphasCumprod[0]) / alphasCumprod[0]) : 0f;
        float[] sig = new float[s.length + 1];
        for (int i = 0; i < s.length; i++) sig[i] = (float) s[i];
        sig[s.length] = sigmaLast;
        for (int i = 0; i < t.length; i++) t[i] = (long) t[i];
        sigmas = sig;
        numInferenceSteps = t.length;
        setSchedule(t, DType.I64);
        resetHistory();
    }

    @Override
    public SchedulerOutput step(Tensor modelOutput, double timestep, Tensor sample, NoiseSource generator) {
        // learned-variance models (DeepFloyd IF) output [noise, variance]: the noise is the first 3 channels
        if (learnedVariance && predictionType == PredictionType.EPSILON) modelOutput = modelOutput.narrow(1, 0, 3);
        checkSameShape(modelOutput, sample, "DPMSolverMultistepScheduler.step");
        startStep(timestep);
        int n = timesteps.length;
        boolean lowerOrderFinalStep = stepIndex == n - 1
                && (eulerAtFinal || (lowerOrderFinal && n < 15) || finalSigmasType.equals("zero"));
        boolean lowerOrderSecond = stepIndex == n - 2 && lowerOrderFinal && n < 15;

        float[] x = values(sample);
        float[] m = convertModelOutput(values(modelOutput), x, sample.dim(0));
        pushModelOutput(m);
        float[] noise = algorithmType.startsWith("sde") ? values(generator.randn(sample.shape())) : null;

        float[] prev;
        if (solverOrder == 1 || lowerOrderNums < 1 || lowerOrderFinalStep) prev = firstOrderUpdate(m, x, noise);
        else if (solverOrder == 2 || lowerOrderNums < 2 || lowerOrderSecond) prev = secondOrderUpdate(x, noise);
        else prev = thirdOrderUpdate(x);
        if (lowerOrderNums < solverOrder) lowerOrderNums++;
        stepIndex++;
        return new SchedulerOutput(Tensor.of(prev, sample.shape()), null);
    }

    /** DPM-Solver++ works with the x0 prediction, DPM-Solver with the noise prediction. */
    private float[] convertModelOutput(float[] e, float[] x, int batch) {
        float sigma = sigmas[stepIndex];
        float alphaT = alphaT(sigma), sigmaT = sigma * alphaT;
        if (algorithmType.endsWith("dpmsolver++")) {
            return clipping.apply(predictX0(predictionType, alphaT, sigmaT, x, e), batch);
        }
        float[] eps = predictNoise(predictionType, alphaT, sigmaT, x, e);
        if (clipping.thresholding()) {
            float[] x0 = clipping.apply(predictX0(PredictionType.EPSILON, alphaT, sigmaT, x, eps), batch);
            eps = predictNoise(PredictionType.SAMPLE, alphaT, sigmaT, x, x0);
        }
        return eps;
    }

    private float[] firstOrderUpdate(float[] m, float[] x, float[] noise) {
        if (noise == null) return firstOrderUpdate(algorithmType.equals("dpmsolver++"), m, x);
        float sigmaNext = sigmas[stepIndex + 1], sigmaCur = sigmas[stepIndex];
        float alphaT = alphaT(sigmaNext), sigmaT = sigmaNext * alphaT;
        float alphaS = alphaT(sigmaCur), sigmaS = sigmaCur * alphaS;
        float h = (log(alphaT) - log(sigmaT)) - (log(alphaS) - log(sigmaS));
        return switch (algorithmType) {
            case "sde-dpmsolver++" -> combine(new float[]{sigmaT / sigmaS * exp(-h), alphaT * (1 - exp(-2f * h)),
                    sigmaT * sqrt(1f - exp(-2f * h))}, x, m, noise);
            default -> combine(new float[]{alphaT / alphaS, -(2f * (sigmaT * (exp(h) - 1f))), sigmaT * sqrt(exp(2f * h) - 1f)}, x, m, noise);
        };
    }

    private float[] secondOrderUpdate(float[] x, float[] noise) {
        float sNext = sigmas[stepIndex + 1], s0 = sigmas[stepIndex], s1 = sigmas[stepIndex - 1];
        float alphaT = alphaT(sNext), sigmaT = sNext * alphaT;
        float alphaS0 = alphaT(s0), sigmaS0 = s0 * alphaS0;
        float lambdaT = lambda(sNext), lambdaS0 = lambda(s0), lambdaS1 = lambda(s1);
        float[] m0 = modelOutput(1), m1 = modelOutput(2);
        float h = lambdaT - lambdaS0, h0 = lambdaS0 - lambdaS1;
        float r0 = h0 / h;
        float[] d1 = scaledDifference(1f / r0, m0, m1);
        boolean midpoint = solverType.equals("midpoint");
        return switch (algorithmType) {
            case "dpmsolver++" -> {
                float c = alphaT * (exp(-h) - 1f);
                yield combine(new float[]{sigmaT / sigmaS0, -c, midpoint ? -(0.5f * c) : alphaT * ((exp(-h) - 1f) / h + 1f)}, x, m0, d1);
            }
            case "dpmsolver" -> {
                float c = sigmaT * (exp(h) - 1f);
                yield combine(new float[]{alphaT / alphaS0, -c, midpoint ? -(0.5f * c) : -(sigmaT * ((exp(h) - 1f) / h - 1f))}, x, m0, d1);
            }
            case "sde-dpmsolver++" -> {
                float c = alphaT * (1 - exp(-2f * h));
                float cd1 = midpoint ? 0.5f * c : alphaT * ((1f - exp(-2f * h)) / (-2f * h) + 1f);
                yield combine(new float[]{sigmaT / sigmaS0 * exp(-h), c, cd1, sigmaT * sqrt(1f - exp(-2f * h))}, x, m0, d1, noise);
            }
            default -> {
                float c = sigmaT * (exp(h) - 1f);
                float cd1 = midpoint ? -c : -(2f * (sigmaT * ((exp(h) - 1f) / h - 1f)));
                yield combine(new float[]{alphaT / alphaS0, -(2f * c), cd1, sigmaT * sqrt(exp(2f * h) - 1f)}, x, m0, d1, noise);
            }
        };
    }

    private float[] thirdOrderUpdate(float[] x) {
        float sNext = sigmas[stepIndex + 1], s0 = sigmas[stepIndex];
        float alphaT = alphaT(sNext), sigmaT = sNext * alphaT;
        float alphaS0 = alphaT(s0), sigmaS0 = s0 * alphaS0;
        float lambdaT = lambda(sNext), lambdaS0 = lambda(s0), lambdaS1 = lambda(sigmas[stepIndex - 1]), lambdaS2 = lambda(sigmas[stepIndex - 2]);
        float[] m0 = modelOutput(1), m1 = modelOutput(2), m2 = modelOutput(3);
        float h = lambdaT - lambdaS0, h0 = lambdaS0 - lambdaS1, h1 = lambdaS1 - lambdaS2;
        float r0 = h0 / h, r1 = h1 / h;
        float[] d10 = scaledDifference(1f / r0, m0, m1), d11 = scaledDifference(1f / r1, m1, m2);
        float[] d1 = new float[x.length], d2 = new float[x.length];
        float c1 = r0 / (r0 + r1), c2 = 1f / (r0 + r1);
        for (int i = 0; i < x.length; i++) {
            d1[i] = d10[i] + c1 * (d10[i] - d11[i]);
            d2[i] = c2 * (d10[i] - d11[i]);
        }
        if (algorithmType.equals("dpmsolver++")) {
            float e = exp(-h) - 1f;
            return combine(new float[]{sigmaT / sigmaS0, -(alphaT * e), alphaT * (e / h + 1f), -(alphaT * ((exp(-h) - 1f + h) / (h * h) - 0.5f))},
                    x, m0, d1, d2);
        }
        float e = exp(h) - 1f;
        return combine(new float[]{alphaT / alphaS0, -(sigmaT * e), -(sigmaT * (e / h - 1f)), -(sigmaT * ((exp(h) - 1f - h) / (h * h) - 0.5f))},
                x, m0, d1, d2);
    }
}
