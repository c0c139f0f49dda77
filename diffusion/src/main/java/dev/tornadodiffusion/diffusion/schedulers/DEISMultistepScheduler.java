package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.diffusion.NoiseSource;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * DEIS (Zhang and Chen 2022), the log-rho multistep exponential integrator on the noise prediction, orders 1-3.
 * The polynomial's coefficients are integrated in closed form over rho = sigma_t / alpha_t; numpy evaluates the
 * logs of those float32 scalars, so {@link NumpyFloatMath} does here.
 */
public final class DEISMultistepScheduler extends MultistepScheduler {

    public DEISMultistepScheduler(SchedulerConfig config) {
        super(config, false);
        // validated only: diffusers maps the DPM-Solver names onto DEIS's one algorithm and solver
        config.getChoice("algorithm_type", "deis", "deis", "dpmsolver", "dpmsolver++");
        config.getChoice("solver_type", "logrho", "logrho", "midpoint", "heun", "bh1", "bh2");
    }

    @Override
    public void setTimesteps(int n) {
        checkInferenceSteps(n);
        setSpacedOrKarrasSchedule(n);
    }

    @Override
    public SchedulerOutput step(Tensor modelOutput, double timestep, Tensor sample, NoiseSource generator) {
        checkSameShape(modelOutput, sample, "DEISMultistepScheduler.step");
        startStep(timestep);
        int n = timesteps.length;
        boolean lowerOrderFinalStep = stepIndex == n - 1 && lowerOrderFinal && n < 15;
        boolean lowerOrderSecond = stepIndex == n - 2 && lowerOrderFinal && n < 15;

        float[] x = values(sample);
        float[] eps = convertModelOutput(values(modelOutput), x, sample.dim(0));
        pushModelOutput(eps);

        float[] prev;
        if (solverOrder == 1 || lowerOrderNums < 1 || lowerOrderFinalStep) prev = firstOrderUpdate(false, eps, x);
        else if (solverOrder == 2 || lowerOrderNums < 2 || lowerOrderSecond) prev = secondOrderUpdate(x);
        else prev = thirdOrderUpdate(x);
        if (lowerOrderNums < solverOrder) lowerOrderNums++;
        stepIndex++;
        return new SchedulerOutput(Tensor.of(prev, sample.shape()), null);
    }

    /** The noise prediction, taken through x0 so that prediction types and thresholding apply. */
    private float[] convertModelOutput(float[] e, float[] x, int batch) {
        float sigma = sigmas[stepIndex];
        float alphaT = alphaT(sigma), sigmaT = sigma * alphaT;
        float[] x0 = clipping.apply(predictX0(predictionType, alphaT, sigmaT, x, e), batch);
        return predictNoise(PredictionType.SAMPLE, alphaT, sigmaT, x, x0);
    }

    /** rho = sigma_t / alpha_t of sigmas[i]. */
    private float rho(int i) {
        float alpha = alphaT(sigmas[i]);
        return sigmas[i] * alpha / alpha;
    }

    private static float ln(float x) {
        return NumpyFloatMath.log(x);
    }

    /** The integral of the Lagrange basis polynomial through (b, c) that is 1 at b, up to rho t. */
    private static float ind2(float t, float b, float c) {
        return t * (-ln(c) + ln(t) - 1) / (ln(b) - ln(c));
    }

    private static float ind3(float t, float b, float c, float d) {
        float lt = ln(t), lc = ln(c), ld = ln(d);
        float numerator = t * (lc * (ld - lt + 1) - ld * lt + ld + lt * lt - 2 * lt + 2);
        return numerator / ((ln(b) - lc) * (ln(b) - ld));
    }

    private float[] secondOrderUpdate(float[] x) {
        float alphaT = alphaT(sigmas[stepIndex + 1]), alphaS0 = alphaT(sigmas[stepIndex]);
        float rhoT = rho(stepIndex + 1), rhoS0 = rho(stepIndex), rhoS1 = rho(stepIndex - 1);
        float[] m0 = modelOutput(1), m1 = modelOutput(2);
        float coef1 = ind2(rhoT, rhoS0, rhoS1) - ind2(rhoS0, rhoS0, rhoS1);
        float coef2 = ind2(rhoT, rhoS1, rhoS0) - ind2(rhoS0, rhoS1, rhoS0);
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) out[i] = alphaT * (x[i] / alphaS0 + coef1 * m0[i] + coef2 * m1[i]);
        return out;
    }

    private float[] thirdOrderUpdate(float[] x) {
        float alphaT = alphaT(sigmas[stepIndex + 1]), alphaS0 = alphaT(sigmas[stepIndex]);
        float rhoT = rho(stepIndex + 1), rhoS0 = rho(stepIndex), rhoS1 = rho(stepIndex - 1), rhoS2 = rho(stepIndex - 2);
        float[] m0 = modelOutput(1), m1 = modelOutput(2), m2 = modelOutput(3);
        float coef1 = ind3(rhoT, rhoS0, rhoS1, rhoS2) - ind3(rhoS0, rhoS0, rhoS1, rhoS2);
        float coef2 = ind3(rhoT, rhoS1, rhoS2, rhoS0) - ind3(rhoS0, rhoS1, rhoS2, rhoS0);
        float coef3 = ind3(rhoT, rhoS2, rhoS0, rhoS1) - ind3(rhoS0, rhoS2, rhoS0, rhoS1);
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) out[i] = alphaT * (x[i] / alphaS0 + coef1 * m0[i] + coef2 * m1[i] + coef3 * m2[i]);
        return out;
    }
}
