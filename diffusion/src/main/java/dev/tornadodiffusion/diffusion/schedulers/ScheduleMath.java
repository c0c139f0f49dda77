package dev.tornadodiffusion.diffusion.schedulers;

/**
 * The numpy / torch array helpers the schedulers' {@code __init__} and {@code set_timesteps} use, with the
 * rounding of the upstream implementations (float64 numpy, float32 torch), so timesteps and sigmas come out
 * identical.
 */
final class ScheduleMath {
    private ScheduleMath() {}

    /**
     * {@code torch.linspace(start, end, steps, dtype=torch.float32)} on CPU (torch 1.13, AVX2 build): elements
     * before the halfway point are {@code start + step*i}, later ones {@code end - step*(steps-1-i)} (multiply-adds
     * GCC contracted into FMAs), evaluated in 8-wide vectors (two at a time) whose lanes are {@code base + j*step}
     * rounded twice ({@code Vectorized::arange}).
     */
    static float[] torchLinspace(double startValue, double endValue, int steps) {
        float start = (float) startValue, end = (float) endValue;
        float[] out = new float[steps];
        if (steps == 1) out[0] = start;
        if (steps <= 1) return out;
        float step = (end - start) / (float) (steps - 1);
        int halfway = steps / 2;
        int i = 0;
        for (; i <= steps - 16; i += 16) {
            for (int v = i; v < i + 16; v += 8) {
                float base = v < halfway ? Math.fma(step, (float) v, start) : Math.fma(-step, (float) (steps - v - 1), end);
                for (int j = 0; j < 8; j++) out[v + j] = base + j * step;
            }
        }
        for (; i < steps; i++)
            out[i] = i < halfway ? Math.fma(step, (float) i, start) : Math.fma(-step, (float) (steps - i - 1), end);
        return out;
    }

    /** {@code np.linspace(start, stop, num)} (float64, endpoint included). */
    static double[] linspace(double start, double stop, int num) {
        double[] y = new double[num];
        double delta = stop - start;
        int div = num - 1;
        if (div > 0) {
            double step = delta / div;
            for (int i = 0; i < num; i++) y[i] = step == 0 ? i / (double) div * delta + start : i * step + start;
            y[num - 1] = stop;
        } else if (num == 1) {
            y[0] = start;
        }
        return y;
    }

    /** {@code np.linspace(start, stop, num, endpoint=False)}. */
    static double[] linspaceExclusive(double start, double stop, int num) {
        double[] y = new double[num];
        double step = (stop - start) / num;
        for (int i = 0; i < num; i++) y[i] = i * step + start;
        return y;
    }

    /** {@code np.arange(start, stop, step)} for floats: {@code start + i*delta}, delta = (start+step) - start. */
    static double[] arange(double start, double stop, double step) {
        int n = (int) Math.max(0, Math.ceil((stop - start) / step));
        double[] y = new double[n];
        if (n == 0) return y;
        y[0] = start;
        if (n == 1) return y;
        y[1] = start + step;
        double delta = y[1] - start;
        for (int i = 2; i < n; i++) y[i] = start + i * delta;
        return y;
    }

    /** Reverses in place and returns the array. */
    static double[] reverse(double[] a) {
        for (int i = 0, j = a.length - 1; i < j; i++, j--) {
            double t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        return a;
    }

    /** {@code np.round} of each element (half to even). */
    static double[] round(double[] a) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) out[i] = Math.rint(a[i]);
        return out;
    }

    /** {@code np.interp(x, np.arange(len(fp)), fp)}: linear interpolation on the integer grid, float64. */
    static double[] interp(double[] x, float[] fp) {
        int n = fp.length;
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double v = x[i];
            if (Double.isNaN(v)) out[i] = v;
            else if (v <= 0) out[i] = fp[0];
            else if (v >= n - 1) out[i] = fp[n - 1];
            else {
                int j = (int) Math.floor(v);
                double slope = (double) fp[j + 1] - fp[j];
                out[i] = j == v ? fp[j] : slope * (v - j) + fp[j];
            }
        }
        return out;
    }

    /** {@code ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5} in float32. */
    static float[] sigmas(float[] alphasCumprod) {
        float[] s = new float[alphasCumprod.length];
        for (int i = 0; i < s.length; i++) s[i] = sqrt((1f - alphasCumprod[i]) / alphasCumprod[i]);
        return s;
    }

    /** {@code np.log} of a float32 array. */
    static float[] log(float[] a) {
        float[] out = new float[a.length];
        for (int i = 0; i < a.length; i++) out[i] = NumpyFloatMath.log(a[i]);
        return out;
    }

    /**
     * {@code _convert_to_karras}: rho = 7 interpolation between sigma_max and sigma_min (float64); NaN bounds
     * mean "not configured" and take the ends of {@code inSigmas}.
     */
    static double[] karras(double[] inSigmas, double configSigmaMin, double configSigmaMax, int n) {
        double sigmaMin = Double.isNaN(configSigmaMin) ? inSigmas[inSigmas.length - 1] : configSigmaMin;
        double sigmaMax = Double.isNaN(configSigmaMax) ? inSigmas[0] : configSigmaMax;
        double rho = 7.0;
        double[] ramp = linspace(0, 1, n);
        double minInvRho = Math.pow(sigmaMin, 1 / rho), maxInvRho = Math.pow(sigmaMax, 1 / rho);
        double[] out = new double[n];
        for (int i = 0; i < n; i++) out[i] = Math.pow(maxInvRho + ramp[i] * (minInvRho - maxInvRho), rho);
        return out;
    }

    /**
     * {@code _sigma_to_t}: the fractional training timestep whose log sigma matches, interpolated between the two
     * neighbouring entries of {@code logSigmas}. numpy 1.x value-based casting keeps the float64 scalar from
     * promoting the float32 arrays, so distances and weights are float32; only the final blend is float64.
     */
    static double sigmaToT(double sigma, float[] logSigmas) {
        float logSigma = (float) Math.log(Math.max(sigma, 1e-10));
        int low = lowIndex(logSigma, logSigmas);
        float w = interpolationWeight(logSigma, logSigmas, low);
        return (double) (1 - w) * low + (double) w * (low + 1);
    }

    /**
     * {@code _sigma_to_t} of a float32 torch sigma against the torch {@code log_sigmas} (KDPM2's interpolated
     * timesteps): the log of the numpy float32 scalar {@code np.maximum} returns (numpy's scalar path, correctly
     * rounded, unlike its array loop), and distances, weights and the blend all float32.
     */
    static float sigmaToTFloat32(float sigma, float[] logSigmas) {
        float logSigma = (float) Math.log(Math.max(sigma, (float) 1e-10));
        int low = lowIndex(logSigma, logSigmas);
        float w = interpolationWeight(logSigma, logSigmas, low);
        return (1 - w) * low + w * (low + 1);
    }

    /** The last index whose log sigma is at most {@code logSigma} (0 if none), at most the second last. */
    private static int lowIndex(float logSigma, float[] logSigmas) {
        int low = 0;
        for (int i = 0; i < logSigmas.length; i++) if (logSigma - logSigmas[i] >= 0) low = i;
        return Math.min(low, logSigmas.length - 2);
    }

    /** The weight of {@code low + 1}, clipped to [0, 1]. */
    private static float interpolationWeight(float logSigma, float[] logSigmas, int low) {
        float lo = logSigmas[low], hi = logSigmas[low + 1];
        float w = (lo - logSigma) / (lo - hi);
        return Math.min(Math.max(w, 0f), 1f);
    }

    static float sqrt(float x) {
        return (float) Math.sqrt(x);
    }
}
