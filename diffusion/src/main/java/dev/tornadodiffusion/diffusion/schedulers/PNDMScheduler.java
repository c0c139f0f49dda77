package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.diffusion.NoiseSource;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Pseudo numerical methods for diffusion models (Liu et al. 2022, arXiv 2202.09778): the transfer of formula (9)
 * driven by a linear multistep (PLMS) estimate of the noise built from the last four model outputs. With
 * {@code skip_prk_steps} (what Stable Diffusion configs set) the history starts with a second-order step that
 * repeats the second timestep (crowsonkb's PLMS); otherwise three Runge-Kutta steps of four model calls each (PRK)
 * warm it up. As upstream, the position in the run is a count of step calls and the timestep passed to
 * {@link #step} is used as given.
 */
public final class PNDMScheduler extends AbstractScheduler {
    /** Model outputs the linear multistep formula combines (F-PNDM: fourth order). */
    private static final int PNDM_ORDER = 4;
    /** Timesteps of the Runge-Kutta warm-up: three steps of four calls. */
    private static final int PRK_CALLS = 3 * PNDM_ORDER;

    private final boolean skipPrkSteps;
    private final PredictionType predictionType;
    private final TimestepSpacing timestepSpacing;
    private final float finalAlphaCumprod;

    /** The Runge-Kutta part of the schedule (empty with skip_prk_steps). */
    private double[] prkTimesteps = new double[0];
    private int counter;
    /** Model outputs of the past steps (ets), oldest first, at most four. */
    private final List<float[]> ets = new ArrayList<>();
    /** The Runge-Kutta weighted sum of the current step's model outputs; null stands for upstream's 0. */
    private float[] curModelOutput;
    private float[] curSample;

    public PNDMScheduler(SchedulerConfig config) {
        super(config, BetaSchedule.Kind.LINEAR, 0.0001, 0.02, false);
        this.skipPrkSteps = config.getBoolean("skip_prk_steps", false);
        this.predictionType = predictionType(PredictionType.EPSILON, PredictionType.V_PREDICTION);
        this.timestepSpacing = timestepSpacing(TimestepSpacing.LEADING);
        this.finalAlphaCumprod = config.getBoolean("set_alpha_to_one", false) ? 1f : alphasCumprod[0];
    }

    /**
     * The spaced timesteps (descending here, ascending upstream) become the PLMS schedule: with skip_prk_steps the
     * second one is repeated ({@code [t0, t1, t1, t2, ...]}); otherwise the three steps between the four largest
     * timesteps are each visited at start, midpoint, midpoint, end, and PLMS takes over from the fourth.
     */
    @Override
    public void setTimesteps(int n) {
        checkInferenceSteps(n);
        double[] spaced = spacedTimesteps(timestepSpacing, n, true);
        int m = spaced.length;
        double[] schedule;
        if (skipPrkSteps) {
            prkTimesteps = new double[0];
            schedule = new double[m == 1 ? 1 : m + 1];
            schedule[0] = spaced[0];
            for (int i = 1; i < schedule.length; i++) schedule[i] = spaced[Math.max(1, i - 1)];
        } else {
            if (m < PNDM_ORDER)
                throw new IllegalArgumentException(className() + ": the Runge-Kutta warm-up (skip_prk_steps false) needs at least "
                        + PNDM_ORDER + " inference steps, got " + n);
            // np.array(t[-4:]).repeat(2) + np.tile([0, h], 4), then [:-1].repeat(2)[1:-1][::-1]
            int half = numTrainTimesteps / n / 2;
            double[] pairs = new double[2 * PNDM_ORDER - 1];
            for (int k = 0; k < pairs.length; k++) pairs[k] = spaced[PNDM_ORDER - 1 - k / 2] + (k % 2) * half;
            prkTimesteps = new double[PRK_CALLS];
            for (int j = 0; j < PRK_CALLS; j++) prkTimesteps[PRK_CALLS - 1 - j] = pairs[(j + 1) / 2];
            schedule = new double[PRK_CALLS + m - (PNDM_ORDER - 1)];
            System.arraycopy(prkTimesteps, 0, schedule, 0, PRK_CALLS);
            System.arraycopy(spaced, PNDM_ORDER - 1, schedule, PRK_CALLS, m - (PNDM_ORDER - 1));
        }
        numInferenceSteps = n;
        setSchedule(schedule, DType.I64);
        ets.clear();
        counter = 0;
        curModelOutput = null;
        curSample = null;
    }


    @Override
    public SchedulerOutput step(Tensor modelOutput, double timestep, Tensor sample, NoiseSource generator) {
        requireTimesteps();
        checkSameShape(modelOutput, sample, "PNDMScheduler.step");
        float[] e = values(modelOutput).clone(), x = values(sample);
        float[] prev = counter < prkTimesteps.length ? stepPrk(e, timestep, x) : stepPlms(e, timestep, x);
        counter++;
        return new SchedulerOutput(Tensor.of(prev, sample.shape()), null);
    }

    /** One of the four calls of a Runge-Kutta step: each transfers the step's start sample with the newest slope. */
    private float[] stepPrk(float[] e, double timestep, float[] x) {
        int diffToPrev = counter % 2 == 1 ? 0 : numTrainTimesteps / numInferenceSteps / 2;
        double prevTimestep = timestep - diffToPrev;
        double t = prkTimesteps[counter / 4 * 4];
        float[] m = e;
        switch (counter % 4) {
            case 0 -> {
                curModelOutput = scaled(e, (float) (1.0 / 6));
                ets.add(e);
                curSample = x.clone();
            }
            case 1, 2 -> curModelOutput = plusScaled(curModelOutput, e, (float) (1.0 / 3));
            default -> {
                m = plusScaled(curModelOutput, e, (float) (1.0 / 6));
                curModelOutput = null;
            }
        }
        return prevSample(curSample, t, prevTimestep, m);
    }

    /** A linear multistep call: Adams-Bashforth of the order the history allows (the second call redoes the first step). */
    private float[] stepPlms(float[] e, double timestep, float[] x) {
        int ratio = numTrainTimesteps / numInferenceSteps;
        double t = timestep, prevTimestep = timestep - ratio;
        if (counter != 1) {
            while (ets.size() > PNDM_ORDER - 1) ets.removeFirst();
            ets.add(e);
        } else {
            prevTimestep = timestep;
            t = timestep + ratio;
        }
        int n = e.length, k = ets.size();
        if (k == 1 && counter == 0) {
            curSample = x.clone();
            return prevSample(x, t, prevTimestep, e);
        }
        float[] m = new float[n];
        if (k == 1 && counter == 1) {
            float[] e1 = ets.getLast();
            for (int i = 0; i < n; i++) m[i] = (e[i] + e1[i]) / 2;
            x = curSample;
            curSample = null;
        } else if (k == 2) {
            float[] e1 = ets.get(1), e2 = ets.get(0);
            for (int i = 0; i < n; i++) m[i] = (3 * e1[i] - e2[i]) / 2;
        } else if (k == 3) {
            float[] e1 = ets.get(2), e2 = ets.get(1), e3 = ets.get(0);
            for (int i = 0; i < n; i++) m[i] = (23 * e1[i] - 16 * e2[i] + 5 * e3[i]) / 12;
        } else {
            float[] e1 = ets.get(3), e2 = ets.get(2), e3 = ets.get(1), e4 = ets.get(0);
            float c = (float) (1.0 / 24);
            for (int i = 0; i < n; i++) m[i] = c * (55 * e1[i] - 59 * e2[i] + 37 * e3[i] - 9 * e4[i]);
        }
        return prevSample(x, t, prevTimestep, m);
    }

    /**
     * {@code _get_prev_sample}, formula (9): x_{t-δ} = sqrt(α_{t-δ}/α_t) x_t - (α_{t-δ} - α_t) ε /
     * (α_t sqrt(1-α_{t-δ}) + sqrt(α_t (1-α_t) α_{t-δ})), with α the cumulative products.
     */
    private float[] prevSample(float[] x, double t, double prevT, float[] e) {
        float alphaProdT = alphaCumprodAt(t);
        float alphaProdTPrev = prevT >= 0 ? alphaCumprodAt(prevT) : finalAlphaCumprod;
        float betaProdT = 1 - alphaProdT, betaProdTPrev = 1 - alphaProdTPrev;
        int n = x.length;
        if (predictionType == PredictionType.V_PREDICTION) {
            float sqrtAlpha = sqrt(alphaProdT), sqrtBeta = sqrt(betaProdT);
            float[] eps = new float[n];
            for (int i = 0; i < n; i++) eps[i] = sqrtAlpha * e[i] + sqrtBeta * x[i];
            e = eps;
        }
        float sampleCoeff = sqrt(alphaProdTPrev / alphaProdT);
        float denom = alphaProdT * sqrt(betaProdTPrev) + sqrt(alphaProdT * betaProdT * alphaProdTPrev);
        float diff = alphaProdTPrev - alphaProdT;
        float[] prev = new float[n];
        for (int i = 0; i < n; i++) prev[i] = sampleCoeff * x[i] - diff * e[i] / denom;
        return prev;
    }

    private static float[] scaled(float[] a, float c) {
        float[] out = new float[a.length];
        for (int i = 0; i < a.length; i++) out[i] = c * a[i];
        return out;
    }

    /** {@code acc + c * a}, elementwise. */
    private static float[] plusScaled(float[] acc, float[] a, float c) {
        float[] out = new float[a.length];
        for (int i = 0; i < a.length; i++) out[i] = acc[i] + c * a[i];
        return out;
    }

    @Override
    public Tensor addNoise(Tensor original, Tensor noise, Tensor timesteps) {
        return addNoiseWithAlphas(original, noise, timesteps);
    }
}
