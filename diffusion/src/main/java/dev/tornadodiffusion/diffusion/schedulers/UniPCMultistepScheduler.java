package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.diffusion.NoiseSource;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.Arrays;

/**
 * UniPC (Zhao et al. 2023): a multistep predictor (UniP) followed, on the next call, by a corrector (UniC) that
 * reuses the new model output to refine the previous prediction; B(h) variants bh1 / bh2. The configured
 * {@code solver_p} (another scheduler as predictor) cannot come from a config file and is not supported.
 */
public final class UniPCMultistepScheduler extends MultistepScheduler {
    private final boolean predictX0;
    private final boolean bh1;
    private final int[] disableCorrector;

    private float[] lastSample;
    private int thisOrder;

    public UniPCMultistepScheduler(SchedulerConfig config) {
        super(config, false);
        this.predictX0 = config.getBoolean("predict_x0", true);
        String solver = config.getChoice("solver_type", "bh2", "bh1", "bh2", "midpoint", "heun", "logrho");
        this.bh1 = solver.equals("bh1");
        this.disableCorrector = config.getIntArray("disable_corrector", new int[0]);
    }

    @Override
    public void setTimesteps(int n) {
        checkInferenceSteps(n);
        setSpacedOrKarrasSchedule(n);
        lastSample = null;
        thisOrder = 0;
    }

    @Override
    public SchedulerOutput step(Tensor modelOutput, double timestep, Tensor sample, NoiseSource generator) {
        checkSameShape(modelOutput, sample, "UniPCMultistepScheduler.step");
        startStep(timestep);
        boolean useCorrector = stepIndex > 0 && !correctorDisabled(stepIndex - 1) && lastSample != null;
        float[] x = values(sample);
        float[] converted = convertModelOutput(values(modelOutput), x, sample.dim(0));
        if (useCorrector) x = corrector(converted, lastSample, x, thisOrder);

        pushModelOutput(converted);

        int order = lowerOrderFinal ? Math.min(solverOrder, timesteps.length - stepIndex) : solverOrder;
        thisOrder = Math.min(order, lowerOrderNums + 1); // warm-up of the multistep history
        lastSample = x.clone();
        float[] prev = predictor(x, thisOrder);
        if (lowerOrderNums < solverOrder) lowerOrderNums++;
        stepIndex++;
        return new SchedulerOutput(Tensor.of(prev, sample.shape()), null);
    }

    private boolean correctorDisabled(int index) {
        for (int d : disableCorrector) if (d == index) return true;
        return false;
    }

    private float[] convertModelOutput(float[] e, float[] x, int batch) {
        float sigma = sigmas[stepIndex];
        float alphaT = alphaT(sigma), sigmaT = sigma * alphaT;
        if (predictX0) return clipping.apply(predictX0(predictionType, alphaT, sigmaT, x, e), batch);
        return predictNoise(predictionType, alphaT, sigmaT, x, e);
    }

    /**
     * The B(h) coefficients shared by predictor and corrector: rows {@code R[k] = rks^k} and
     * {@code b[k] = h_phi_{k+1} * k! / B(h)}; returns {R, b} with {@code hPhi1} and {@code B(h)} in {@code scalars}.
     */
    private float[][][] coefficients(float[] rks, float hh, int order, float[] scalars) {
        float hPhi1 = TorchFloatMath.expm1(hh);
        float hPhiK = hPhi1 / hh - 1;
        float bH = bh1 ? hh : TorchFloatMath.expm1(hh);
        long factorial = 1;
        float[][] r = new float[order][order];
        float[] b = new float[order];
        for (int i = 1; i <= order; i++) {
            for (int j = 0; j < order; j++) r[i - 1][j] = power(rks[j], i - 1);
            b[i - 1] = hPhiK * factorial / bH;
            factorial *= i + 1;
            hPhiK = hPhiK / hh - (float) (1.0 / factorial);
        }
        scalars[0] = hPhi1;
        scalars[1] = bH;
        return new float[][][]{r, {b}};
    }

    /** {@code torch.pow(x, k)} for the small integer exponents used here (pow's fast paths multiply). */
    private static float power(float x, int k) {
        return switch (k) {
            case 0 -> 1f;
            case 1 -> x;
            case 2 -> x * x;
            case 3 -> x * x * x;
            default -> (float) Math.pow(x, k);
        };
    }

    /** UniP: predicts the sample at the next timestep from the last {@code order} model outputs. */
    private float[] predictor(float[] x, int order) {
        float sNext = sigmas[stepIndex + 1], s0 = sigmas[stepIndex];
        float alphaT = alphaT(sNext), sigmaT = sNext * alphaT;
        float alphaS0 = alphaT(s0), sigmaS0 = s0 * alphaS0;
        float lambdaS0 = lambda(s0);
        float h = lambda(sNext) - lambdaS0;
        float[] m0 = modelOutput(1);

        float[] rks = new float[order];
        float[][] d1s = new float[order - 1][];
        for (int i = 1; i < order; i++) {
            float[] mi = modelOutput(i + 1);
            float rk = (lambda(sigmas[stepIndex - i]) - lambdaS0) / h;
            rks[i - 1] = rk;
            d1s[i - 1] = divideDifference(mi, m0, rk);
        }
        rks[order - 1] = 1f;
        float hh = predictX0 ? -h : h;
        float[] scalars = new float[2];
        float[][][] rb = coefficients(rks, hh, order, scalars);
        float hPhi1 = scalars[0], bH = scalars[1];

        float[] rhos = order == 2 ? new float[]{0.5f} : order > 2 ? solve(rb[0], rb[1][0], order - 1, false) : new float[0];
        float[] predRes = weightedSum(rhos, d1s, x.length);
        float c0 = predictX0 ? sigmaT / sigmaS0 : alphaT / alphaS0;
        float c1 = (predictX0 ? alphaT : sigmaT) * hPhi1;
        float c2 = (predictX0 ? alphaT : sigmaT) * bH;
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            float xt = c0 * x[i] - c1 * m0[i];
            out[i] = predRes == null ? xt : xt - c2 * predRes[i];
        }
        return out;
    }

    /** UniC: corrects {@code thisSample} (predicted from {@code last}) with the model output at its timestep. */
    private float[] corrector(float[] modelT, float[] last, float[] thisSample, int order) {
        float sT = sigmas[stepIndex], s0 = sigmas[stepIndex - 1];
        float alphaT = alphaT(sT), sigmaT = sT * alphaT;
        float alphaS0 = alphaT(s0), sigmaS0 = s0 * alphaS0;
        float lambdaS0 = lambda(s0);
        float h = lambda(sT) - lambdaS0;
        float[] m0 = modelOutput(1);

        float[] rks = new float[order];
        float[][] d1s = new float[order - 1][];
        for (int i = 1; i < order; i++) {
            float[] mi = modelOutput(i + 1);
            float rk = (lambda(sigmas[stepIndex - (i + 1)]) - lambdaS0) / h;
            rks[i - 1] = rk;
            d1s[i - 1] = divideDifference(mi, m0, rk);
        }
        rks[order - 1] = 1f;
        float hh = predictX0 ? -h : h;
        float[] scalars = new float[2];
        float[][][] rb = coefficients(rks, hh, order, scalars);
        float hPhi1 = scalars[0], bH = scalars[1];

        float[] rhos = order == 1 ? new float[]{0.5f} : solve(rb[0], rb[1][0], order, true);
        float[] corrRes = weightedSum(rhos, d1s, last.length);
        float rhoLast = rhos[rhos.length - 1];
        float c0 = predictX0 ? sigmaT / sigmaS0 : alphaT / alphaS0;
        float c1 = (predictX0 ? alphaT : sigmaT) * hPhi1;
        float c2 = (predictX0 ? alphaT : sigmaT) * bH;
        float[] out = new float[last.length];
        for (int i = 0; i < last.length; i++) {
            float xt = c0 * last[i] - c1 * m0[i];
            float d1t = modelT[i] - m0[i];
            float corr = corrRes == null ? rhoLast * d1t : corrRes[i] + rhoLast * d1t;
            out[i] = xt - c2 * corr;
        }
        return out;
    }

    private static float[] divideDifference(float[] a, float[] b, float d) {
        float[] out = new float[a.length];
        for (int i = 0; i < a.length; i++) out[i] = (a[i] - b[i]) / d;
        return out;
    }

    /** {@code einsum("k,bkc...->bc...", rhos, D1s)} over the first D1s.length weights; null when there are no D1s. */
    private static float[] weightedSum(float[] rhos, float[][] d1s, int n) {
        if (d1s.length == 0) return null;
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            float acc = rhos[0] * d1s[0][i];
            for (int k = 1; k < d1s.length; k++) acc = acc + rhos[k] * d1s[k][i];
            out[i] = acc;
        }
        return out;
    }

    /**
     * {@code torch.linalg.solve(A, b)} in float32 as torch 1.13 computes it. LAPACK getrf LU with partial pivoting
     * (multipliers scaled by the pivot's reciprocal); for a contiguous A torch factors A^T and solves with the
     * transposed factors (getrs 'T': U^T, unit L^T, then the row swaps in reverse), for a strided slice such as
     * {@code R[:-1, :-1]} it factors A itself (getrs 'N': swaps, unit L, U).
     */
    static float[] solve(float[][] a, float[] rhs, int n, boolean contiguous) {
        float[][] m = new float[n][n];
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) m[i][j] = contiguous ? a[j][i] : a[i][j];
        int[] pivots = new int[n];
        for (int k = 0; k < n; k++) {
            int p = k;
            for (int i = k + 1; i < n; i++) if (Math.abs(m[i][k]) > Math.abs(m[p][k])) p = i;
            pivots[k] = p;
            float[] row = m[k];
            m[k] = m[p];
            m[p] = row;
            float inv = 1f / m[k][k];
            for (int i = k + 1; i < n; i++) {
                float l = m[i][k] * inv;
                m[i][k] = l;
                for (int j = k + 1; j < n; j++) m[i][j] = m[i][j] - l * m[k][j];
            }
        }
        float[] x = Arrays.copyOf(rhs, n);
        if (contiguous) {
            for (int i = 0; i < n; i++) {
                float t = x[i];
                for (int k = 0; k < i; k++) t = t - m[k][i] * x[k];
                x[i] = t / m[i][i];
            }
            for (int i = n - 1; i >= 0; i--) {
                float t = x[i];
                for (int k = i + 1; k < n; k++) t = t - m[k][i] * x[k];
                x[i] = t;
            }
            for (int k = n - 1; k >= 0; k--) swap(x, k, pivots[k]);
        } else {
            for (int k = 0; k < n; k++) swap(x, k, pivots[k]);
            for (int k = 0; k < n; k++) for (int i = k + 1; i < n; i++) x[i] = x[i] - x[k] * m[i][k];
            for (int k = n - 1; k >= 0; k--) {
                x[k] = x[k] / m[k][k];
                for (int i = 0; i < k; i++) x[i] = x[i] - x[k] * m[i][k];
            }
        }
        return x;
    }

    private static void swap(float[] x, int i, int j) {
        float t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
}
