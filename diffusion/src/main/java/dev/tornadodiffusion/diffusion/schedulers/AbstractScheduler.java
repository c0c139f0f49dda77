package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * What every scheduler shares: the config, the training schedule ({@code betas}, {@code alphas_cumprod}), the
 * inference timesteps with their upstream dtype, and the step index bookkeeping of diffusers'
 * {@code _init_step_index} / {@code set_begin_index}. Sample math runs on float arrays in float32, in the
 * order the upstream torch expressions evaluate.
 */
abstract class AbstractScheduler implements Scheduler {
    final SchedulerConfig config;
    final int numTrainTimesteps;
    final boolean rescaleBetasZeroSnr;
    final float[] betas;
    final float[] alphasCumprod;

    double[] timesteps = new double[0];
    DType timestepDType = DType.I64;
    int numInferenceSteps = -1;
    int stepIndex = -1;
    int beginIndex = -1;

    /**
     * Reads the training schedule with this class's defaults; {@code rescaleSupported}: the class has the
     * {@code rescale_betas_zero_snr} option.
     */
    AbstractScheduler(SchedulerConfig config, BetaSchedule.Kind defaultBetaSchedule, double defaultBetaStart, double defaultBetaEnd,
                      boolean rescaleSupported) {
        this.config = config;
        this.numTrainTimesteps = config.getInt("num_train_timesteps", 1000);
        if (numTrainTimesteps < 2) throw config.invalid("num_train_timesteps", "must be at least 2");
        float[] b = BetaSchedule.betas(config, numTrainTimesteps, defaultBetaSchedule, defaultBetaStart, defaultBetaEnd);
        this.rescaleBetasZeroSnr = rescaleSupported && config.getBoolean("rescale_betas_zero_snr", false);
        this.betas = rescaleBetasZeroSnr ? BetaSchedule.rescaleZeroTerminalSnr(b) : b;
        this.alphasCumprod = BetaSchedule.alphasCumprod(betas);
    }

    @Override
    public String className() {
        return getClass().getSimpleName();
    }

    @Override
    public SchedulerConfig config() {
        return config;
    }

    /** The sample itself is the model input (the sigma schedulers scale it). */
    @Override
    public float initNoiseSigma() {
        return 1f;
    }

    @Override
    public Tensor scaleModelInput(Tensor sample, double timestep) {
        return sample;
    }

    @Override
    public int order() {
        return 1;
    }

    @Override
    public Tensor timesteps() {
        int n = timesteps.length;
        return switch (timestepDType) {
            case I64 -> {
                long[] v = new long[n];
                for (int i = 0; i < n; i++) v[i] = (long) timesteps[i];
                yield Tensor.ofLongs(v, n);
            }
            case F64 -> Tensor.wrap(MemorySegment.ofArray(timesteps.clone()), DType.F64, n);
            default -> {
                float[] v = new float[n];
                for (int i = 0; i < n; i++) v[i] = (float) timesteps[i];
                yield Tensor.of(v, n);
            }
        };
    }

    @Override
    public int numTimesteps() {
        return timesteps.length;
    }

    @Override
    public double timestep(int i) {
        return timesteps[i];
    }

    @Override
    public void setBeginIndex(int beginIndex) {
        this.beginIndex = beginIndex;
    }

    @Override
    public float[] betas() {
        return betas.clone();
    }

    @Override
    public float[] alphasCumprod() {
        return alphasCumprod.clone();
    }

    /** Stores a new schedule and forgets the step position ({@code _step_index = _begin_index = None}). */
    void setSchedule(double[] timesteps, DType dtype) {
        this.timesteps = timesteps;
        this.timestepDType = dtype;
        this.stepIndex = -1;
        this.beginIndex = -1;
    }

    void requireTimesteps() {
        if (numInferenceSteps < 0) throw new IllegalStateException(className() + ": call setTimesteps before stepping");
    }

    /** {@code index_for_timestep}: where {@code t} is in the schedule; the second match when it appears twice. */
    int indexForTimestep(double t) {
        int first = -1;
        for (int i = 0; i < timesteps.length; i++) {
            if (timesteps[i] != t) continue;
            if (first >= 0) return i;
            first = i;
        }
        return first >= 0 ? first : missingTimestepIndex(t);
    }

    /** Where a timestep that is not in the schedule goes: an error, unless a scheduler says otherwise. */
    int missingTimestepIndex(double t) {
        throw new IllegalArgumentException(className() + ": timestep " + t + " is not in the schedule");
    }

    /**
     * Before a step (or input scaling) of the schedulers that keep a step index: on the first call of a run,
     * {@code _init_step_index} (the begin index if one was set, else where {@code t} is); past the last step, an error.
     */
    void startStep(double t) {
        requireTimesteps();
        if (stepIndex < 0) stepIndex = beginIndex >= 0 ? beginIndex : indexForTimestep(t);
        if (stepIndex >= timesteps.length)
            throw new IllegalStateException(className() + ": all " + timesteps.length + " steps are done; call setTimesteps to start a new run");
    }

    /** The step index each batch element of {@code timesteps} maps to, as add_noise of the sigma schedulers finds it. */
    int[] addNoiseStepIndices(Tensor timesteps) {
        int[] idx = new int[(int) timesteps.numel()];
        for (int i = 0; i < idx.length; i++)
            idx[i] = beginIndex < 0 ? indexForTimestep(Scheduler.exactValue(timesteps, i)) : stepIndex >= 0 ? stepIndex : beginIndex;
        return idx;
    }

    /** {@code alphas_cumprod[t]} for an integer training timestep. */
    float alphaCumprodAt(double t) {
        int i = trainIndex(t);
        return alphasCumprod[i];
    }

    int trainIndex(double t) {
        if (t != Math.rint(t) || t < -numTrainTimesteps || t >= numTrainTimesteps)
            throw new IllegalArgumentException(className() + ": timestep " + t + " is not an integer in [0, " + numTrainTimesteps + ")");
        int i = (int) t;
        return i < 0 ? i + numTrainTimesteps : i;
    }

    /** add_noise of DDPM, DDIM and LCM: {@code sqrt(alphas_cumprod[t]) * original + sqrt(1 - alphas_cumprod[t]) * noise}. */
    Tensor addNoiseWithAlphas(Tensor original, Tensor noise, Tensor timesteps) {
        int n = (int) timesteps.numel();
        float[] a = new float[n], s = new float[n];
        for (int b = 0; b < n; b++) {
            float alphaProd = alphaCumprodAt(Scheduler.exactValue(timesteps, b));
            a[b] = sqrt(alphaProd);
            s[b] = sqrt(1 - alphaProd);
        }
        return mixPerBatch(original, noise, a, s);
    }

    /** {@code a[b] * original + s[b] * noise} with one coefficient pair per batch element (or one for all). */
    Tensor mixPerBatch(Tensor original, Tensor noise, float[] a, float[] s) {
        checkSameShape(original, noise, className() + ".addNoise");
        int batch = original.rank() == 0 ? 1 : original.dim(0);
        if (a.length != 1 && a.length != batch)
            throw new IllegalArgumentException(className() + ".addNoise: " + a.length + " timesteps for a batch of " + batch);
        float[] x = values(original), e = values(noise);
        float[] out = new float[x.length];
        int per = Math.max(1, x.length / batch);
        for (int i = 0; i < x.length; i++) {
            int b = a.length == 1 ? 0 : i / per;
            out[i] = a[b] * x[i] + s[b] * e[i];
        }
        return Tensor.of(out, original.shape());
    }

    // ---- timestep spacings (Table 2 of arXiv 2305.08891)

    /**
     * The {@code linspace} / {@code leading} / {@code trailing} schedule of DDPM, DDIM and the Euler family,
     * descending; {@code roundLinspace}: integer schedulers round the linspace values.
     */
    double[] spacedTimesteps(TimestepSpacing spacing, int n, boolean roundLinspace) {
        int stepsOffset = config.getInt("steps_offset", 0);
        return switch (spacing) {
            case LINSPACE -> {
                double[] t = ScheduleMath.reverse(ScheduleMath.linspace(0, numTrainTimesteps - 1, n));
                yield roundLinspace ? ScheduleMath.round(t) : t;
            }
            case LEADING -> {
                int ratio = numTrainTimesteps / n;
                double[] t = new double[n];
                for (int i = 0; i < n; i++) t[i] = (double) (n - 1 - i) * ratio + stepsOffset;
                yield t;
            }
            case TRAILING -> {
                double[] t = ScheduleMath.round(ScheduleMath.arange(numTrainTimesteps, 0, -(double) numTrainTimesteps / n));
                for (int i = 0; i < t.length; i++) t[i] -= 1;
                yield t;
            }
        };
    }

    /**
     * The spacing of the multistep solvers (DPM-Solver, UniPC), int64 and descending: they space n+1 points and drop
     * the last, and may stop at {@code lastTimestep} below num_train_timesteps.
     */
    double[] multistepTimesteps(TimestepSpacing spacing, int lastTimestep, int n) {
        return switch (spacing) {
            case LINSPACE -> Arrays.copyOf(ScheduleMath.round(ScheduleMath.reverse(ScheduleMath.linspace(0, lastTimestep - 1, n + 1))), n);
            case LEADING -> {
                int ratio = lastTimestep / (n + 1);
                int stepsOffset = config.getInt("steps_offset", 0);
                double[] t = new double[n];
                for (int i = 0; i < n; i++) t[i] = (double) (n - i) * ratio + stepsOffset;
                yield t;
            }
            case TRAILING -> {
                double[] t = ScheduleMath.round(ScheduleMath.arange(lastTimestep, 0, -(double) numTrainTimesteps / n));
                for (int i = 0; i < t.length; i++) t[i] -= 1;
                yield t;
            }
        };
    }

    /**
     * The schedule of LCM and TCD: {@code n} timesteps evenly picked (floor of a linspace without endpoint) from
     * {@code k-1, 2k-1, ...} (k = num_train_timesteps / originalSteps) reversed, cut by {@code strength} to its
     * first {@code int(originalSteps * strength)} entries.
     */
    double[] distilledTimesteps(int n, int originalSteps, double strength) {
        int k = numTrainTimesteps / originalSteps;
        int origin = (int) (originalSteps * strength);
        if (origin / n < 1)
            throw new IllegalArgumentException(className() + ": original_inference_steps x strength = " + originalSteps + " x " + strength
                    + " is smaller than numInferenceSteps " + n);
        if (n > originalSteps)
            throw new IllegalArgumentException(className() + ": numInferenceSteps " + n + " cannot be larger than original_inference_steps " + originalSteps);
        double[] picks = ScheduleMath.linspaceExclusive(0, origin, n);
        double[] t = new double[n];
        for (int i = 0; i < n; i++) {
            int index = (int) Math.floor(picks[i]);
            t[i] = (long) (origin - index) * k - 1; // origin_timesteps[::-1][index]
        }
        return t;
    }

    TimestepSpacing timestepSpacing(TimestepSpacing defaultValue) {
        return config.getEnum("timestep_spacing", defaultValue, TimestepSpacing.values());
    }

    PredictionType predictionType(PredictionType... allowed) {
        return config.getEnum("prediction_type", PredictionType.EPSILON, allowed);
    }

    void checkInferenceSteps(int n) {
        if (n < 1) throw new IllegalArgumentException(className() + ": numInferenceSteps must be at least 1, got " + n);
        if (n > numTrainTimesteps)
            throw new IllegalArgumentException(className() + ": numInferenceSteps " + n + " cannot be larger than num_train_timesteps " + numTrainTimesteps);
    }

    // ---- float32 sample helpers

    /**
     * The clean-sample prediction x0 from a model output at a point x = alpha * x0 + sigma * noise (DDPM/DDIM/LCM's
     * {@code pred_original_sample}, the solvers' {@code convert_model_output}); v: alpha * x - sigma * v.
     */
    static float[] predictX0(PredictionType type, float alpha, float sigma, float[] x, float[] e) {
        int n = x.length;
        float[] x0 = new float[n];
        switch (type) {
            case EPSILON -> { for (int i = 0; i < n; i++) x0[i] = (x[i] - sigma * e[i]) / alpha; }
            case SAMPLE -> System.arraycopy(e, 0, x0, 0, n);
            default -> { for (int i = 0; i < n; i++) x0[i] = alpha * x[i] - sigma * e[i]; }
        }
        return x0;
    }

    /** The noise prediction from a model output at x = alpha * x0 + sigma * noise; v: alpha * v + sigma * x. */
    static float[] predictNoise(PredictionType type, float alpha, float sigma, float[] x, float[] e) {
        int n = x.length;
        float[] eps = new float[n];
        switch (type) {
            case EPSILON -> System.arraycopy(e, 0, eps, 0, n);
            case SAMPLE -> { for (int i = 0; i < n; i++) eps[i] = (x[i] - alpha * e[i]) / sigma; }
            default -> { for (int i = 0; i < n; i++) eps[i] = alpha * e[i] + sigma * x[i]; }
        }
        return eps;
    }

    /** The elements of an F32 (or convertible) tensor, without copying when it is dense heap F32. Never written to. */
    static float[] values(Tensor t) {
        return t.contiguousF32().array();
    }

    static void checkSameShape(Tensor a, Tensor b, String what) {
        if (!a.sameShape(b))
            throw new IllegalArgumentException(what + ": shapes differ, " + Arrays.toString(a.shape()) + " vs " + Arrays.toString(b.shape()));
    }

    static float sqrt(float x) {
        return ScheduleMath.sqrt(x);
    }

    /** {@code sample.clamp(-range, range)}. */
    static float[] clamp(float[] x, float range) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) out[i] = Math.min(Math.max(x[i], -range), range);
        return out;
    }

    /**
     * {@code _threshold_sample} (Imagen dynamic thresholding): per batch element, s = the {@code ratio} quantile of
     * |x| (torch.quantile, linear interpolation) clamped to [1, maxValue]; x becomes clamp(x, -s, s) / s.
     */
    static float[] thresholdSample(float[] x, int batch, double ratio, double maxValue) {
        int per = x.length / batch;
        float[] out = new float[x.length];
        float q = (float) ratio;
        for (int b = 0; b < batch; b++) {
            float[] abs = new float[per];
            for (int i = 0; i < per; i++) abs[i] = Math.abs(x[b * per + i]);
            Arrays.sort(abs);
            float rank = q * (per - 1);
            int below = (int) rank, above = (int) Math.ceil(rank);
            float w = rank - below;
            float lo = abs[below], hi = abs[above];
            float s = Math.abs(w) < 0.5f ? lo + w * (hi - lo) : hi - (hi - lo) * (1 - w);
            s = Math.min(Math.max(s, 1f), (float) maxValue);
            for (int i = 0; i < per; i++) out[b * per + i] = Math.min(Math.max(x[b * per + i], -s), s) / s;
        }
        return out;
    }
}
