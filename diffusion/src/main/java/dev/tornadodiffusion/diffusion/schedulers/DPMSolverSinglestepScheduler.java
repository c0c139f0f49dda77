package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.diffusion.NoiseSource;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * Single-step DPM-Solver / DPM-Solver++ (Lu et al. 2022, "DPM++ 2S" without the ancestral noise): the schedule is
 * cut into groups of {@code order_list} entries [1, 2, (3)]; the first call of a group remembers the sample and
 * takes a first-order step, the following calls restart from that sample with the higher-order update over the
 * whole group. Deterministic.
 */
public final class DPMSolverSinglestepScheduler extends MultistepScheduler {
    private final boolean dataPrediction;
    private final boolean heun;
    private final String finalSigmasType;
    private final double lambdaMinClipped;
    private final boolean learnedRange;
    /** {@code lower_order_final}; set_timesteps switches it on for good when the run needs it, as upstream. */
    private boolean lowerOrderFinalNow;
    private int[] orderList = new int[0];
    /** The sample the current group started from. */
    private float[] groupSample;

    public DPMSolverSinglestepScheduler(SchedulerConfig config) {
        super(config, false, false);
        if (solverOrder > 3) throw config.invalid("solver_order", "must be 1, 2 or 3");
        String algorithm = config.getChoice("algorithm_type", "dpmsolver++", "dpmsolver++", "dpmsolver", "deis");
        this.dataPrediction = !algorithm.equals("dpmsolver");
        this.heun = config.getChoice("solver_type", "midpoint", "midpoint", "heun", "logrho", "bh1", "bh2").equals("heun");
        this.finalSigmasType = config.getChoice("final_sigmas_type", "zero", "zero", "sigma_min");
        this.lambdaMinClipped = config.getDouble("lambda_min_clipped", Double.NEGATIVE_INFINITY);
        this.learnedRange = "learned_range".equals(config.getString("variance_type", null));
        this.lowerOrderFinalNow = lowerOrderFinal;
        if (!dataPrediction && finalSigmasType.equals("zero"))
            throw config.invalid("final_sigmas_type", "zero is not supported for algorithm_type dpmsolver; use sigma_min");
    }

    @Override
    public void setTimesteps(int n) {
        checkInferenceSteps(n);
        int clipped = lambdaClippedCount(lambdaMinClipped);
        // no timestep_spacing option: always linspace
        double[] t = multistepTimesteps(TimestepSpacing.LINSPACE, numTrainTimesteps - clipped, n);
        float[] trainSigmas = ScheduleMath.sigmas(alphasCumprod);
        double[] s;
        if (useKarrasSigmas) {
            double[][] st = karrasSchedule(trainSigmas, n);
            s = st[0];
            t = st[1];
        } else {
            s = ScheduleMath.interp(t, trainSigmas);
        }
        float[] sig = new float[s.length + 1];
        for (int i = 0; i < s.length; i++) sig[i] = (float) s[i];
        sig[s.length] = finalSigmasType.equals("sigma_min") ? sqrt((1 - alphasCumprod[0]) / alphasCumprod[0]) : 0f;
        sigmas = sig;
        numInferenceSteps = n;
        setSchedule(t, DType.I64);
        resetHistory();
        groupSample = null;
        if (n % solverOrder != 0 || finalSigmasType.equals("zero")) lowerOrderFinalNow = true;
        orderList = orderList(n);
    }

    /** {@code get_order_list}: the order of each call, groups of [1, 2, 3] ending early as lower_order_final says. */
    private int[] orderList(int steps) {
        int groups = steps / solverOrder;
        int[] tail = new int[0];
        if (lowerOrderFinalNow) {
            int rest = steps % solverOrder;
            if (solverOrder > 1 && rest == 0) {
                groups--;
                tail = solverOrder == 3 ? new int[]{1, 2, 1} : new int[]{1, 1};
            } else if (rest > 0) {
                tail = rest == 1 ? new int[]{1} : new int[]{1, 2};
            }
        }
        int[] out = new int[groups * solverOrder + tail.length];
        for (int i = 0; i < groups * solverOrder; i++) out[i] = i % solverOrder + 1;
        System.arraycopy(tail, 0, out, groups * solverOrder, tail.length);
        return out;
    }

    @Override
    public SchedulerOutput step(Tensor modelOutput, double timestep, Tensor sample, NoiseSource generator) {
        if (learnedRange && predictionType == PredictionType.EPSILON) modelOutput = modelOutput.narrow(1, 0, 3);
        checkSameShape(modelOutput, sample, "DPMSolverSinglestepScheduler.step");
        startStep(timestep);
        float[] x = values(sample);
        pushModelOutput(convertModelOutput(values(modelOutput), x, sample.dim(0)));

        int order = orderList[stepIndex];
        while (modelOutput(order) == null) order--;
        if (order == 1) groupSample = x.clone();
        float[] prev = switch (order) {
            case 1 -> firstOrderUpdate(dataPrediction, modelOutput(1), groupSample);
            case 2 -> secondOrderUpdate(groupSample);
            default -> thirdOrderUpdate(groupSample);
        };
        stepIndex++;
        return new SchedulerOutput(Tensor.of(prev, sample.shape()), null);
    }

    /** DPM-Solver++ works with the x0 prediction, DPM-Solver with the noise prediction. */
    private float[] convertModelOutput(float[] e, float[] x, int batch) {
        float sigma = sigmas[stepIndex];
        float alphaT = alphaT(sigma), sigmaT = sigma * alphaT;
        return dataPrediction ? clipping.apply(predictX0(predictionType, alphaT, sigmaT, x, e), batch)
                : predictNoise(predictionType, alphaT, sigmaT, x, e);
    }

    /** From the group's sample at sigmas[stepIndex - 1] with the two model outputs of the group. */
    private float[] secondOrderUpdate(float[] x) {
        float sNext = sigmas[stepIndex + 1], s1 = sigmas[stepIndex - 1];
        float alphaT = alphaT(sNext), sigmaT = sNext * alphaT;
        float alphaS1 = alphaT(s1), sigmaS1 = s1 * alphaS1;
        float lambdaT = lambda(sNext), lambdaS0 = lambda(sigmas[stepIndex]), lambdaS1 = lambda(s1);
        float[] m0 = modelOutput(1), m1 = modelOutput(2);
        float h = lambdaT - lambdaS1, h0 = lambdaS0 - lambdaS1;
        float r0 = h0 / h;
        float[] d1 = scaledDifference(1f / r0, m0, m1);
        if (dataPrediction) {
            float c = alphaT * (exp(-h) - 1f);
            return combine(new float[]{sigmaT / sigmaS1, -c, heun ? alphaT * ((exp(-h) - 1f) / h + 1f) : -(0.5f * c)}, x, m1, d1);
        }
        float c = sigmaT * (exp(h) - 1f);
        return combine(new float[]{alphaT / alphaS1, -c, heun ? -(sigmaT * ((exp(h) - 1f) / h - 1f)) : -(0.5f * c)}, x, m1, d1);
    }

    /** From the group's sample at sigmas[stepIndex - 2] with the three model outputs of the group. */
    private float[] thirdOrderUpdate(float[] x) {
        float sNext = sigmas[stepIndex + 1], s2 = sigmas[stepIndex - 2];
        float alphaT = alphaT(sNext), sigmaT = sNext * alphaT;
        float alphaS2 = alphaT(s2), sigmaS2 = s2 * alphaS2;
        float lambdaT = lambda(sNext), lambdaS0 = lambda(sigmas[stepIndex]), lambdaS1 = lambda(sigmas[stepIndex - 1]), lambdaS2 = lambda(s2);
        float[] m0 = modelOutput(1), m1 = modelOutput(2), m2 = modelOutput(3);
        float h = lambdaT - lambdaS2, h0 = lambdaS0 - lambdaS2, h1 = lambdaS1 - lambdaS2;
        float r0 = h0 / h, r1 = h1 / h;
        float[] d10 = scaledDifference(1f / r1, m1, m2), d11 = scaledDifference(1f / r0, m0, m2);
        int n = x.length;
        float[] d1 = new float[n], d2 = new float[n];
        for (int i = 0; i < n; i++) {
            d1[i] = (r0 * d10[i] - r1 * d11[i]) / (r0 - r1);
            d2[i] = 2f * (d11[i] - d10[i]) / (r0 - r1);
        }
        if (dataPrediction) {
            float e = exp(-h) - 1f;
            float c1 = alphaT * (e / h + 1f);
            return heun
                    ? combine(new float[]{sigmaT / sigmaS2, -(alphaT * e), c1, -(alphaT * ((exp(-h) - 1f + h) / (h * h) - 0.5f))}, x, m2, d1, d2)
                    : combine(new float[]{sigmaT / sigmaS2, -(alphaT * e), c1}, x, m2, d11);
        }
        float e = exp(h) - 1f;
        float c1 = -(sigmaT * (e / h - 1f));
        return heun
                ? combine(new float[]{alphaT / alphaS2, -(sigmaT * e), c1, -(sigmaT * ((exp(h) - 1f - h) / (h * h) - 0.5f))}, x, m2, d1, d2)
                : combine(new float[]{alphaT / alphaS2, -(sigmaT * e), c1}, x, m2, d11);
    }
}
