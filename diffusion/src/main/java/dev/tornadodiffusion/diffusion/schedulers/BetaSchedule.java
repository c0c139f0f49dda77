package dev.tornadodiffusion.diffusion.schedulers;

/**
 * The training noise schedule every scheduler starts from: {@code betas} from {@code beta_schedule} (or
 * {@code trained_betas}), optionally rescaled to zero terminal SNR, and {@code alphas_cumprod}; float32 as diffusers
 * holds them.
 */
final class BetaSchedule {
    private BetaSchedule() {}

    /** {@code beta_schedule}. */
    enum Kind { LINEAR, SCALED_LINEAR, SQUAREDCOS_CAP_V2 }

    /** Reads {@code trained_betas} / {@code beta_schedule} / {@code beta_start} / {@code beta_end} with the class defaults. */
    static float[] betas(SchedulerConfig config, int numTrainTimesteps, Kind defaultSchedule, double defaultStart, double defaultEnd) {
        float[] trained = config.getFloatArray("trained_betas", null);
        if (trained != null) {
            if (trained.length != numTrainTimesteps)
                throw config.invalid("trained_betas", "has " + trained.length + " values but num_train_timesteps is " + numTrainTimesteps);
            return trained;
        }
        Kind schedule = config.getEnum("beta_schedule", defaultSchedule, Kind.values());
        double start = config.getDouble("beta_start", defaultStart), end = config.getDouble("beta_end", defaultEnd);
        return switch (schedule) {
            case LINEAR -> ScheduleMath.torchLinspace(start, end, numTrainTimesteps);
            case SCALED_LINEAR -> {
                float[] b = ScheduleMath.torchLinspace(Math.sqrt(start), Math.sqrt(end), numTrainTimesteps);
                for (int i = 0; i < b.length; i++) b[i] = b[i] * b[i];
                yield b;
            }
            case SQUAREDCOS_CAP_V2 -> betasForAlphaBar(numTrainTimesteps);
        };
    }

    /** {@code betas_for_alpha_bar} with the Glide cosine alpha_bar, max_beta 0.999 (float64, then float32). */
    static float[] betasForAlphaBar(int n) {
        float[] betas = new float[n];
        for (int i = 0; i < n; i++) {
            double t1 = (double) i / n, t2 = (double) (i + 1) / n;
            betas[i] = (float) Math.min(1 - alphaBar(t2) / alphaBar(t1), 0.999);
        }
        return betas;
    }

    private static double alphaBar(double t) {
        double c = Math.cos((t + 0.008) / 1.008 * Math.PI / 2);
        return c * c;
    }

    /** {@code torch.cumprod(1.0 - betas)}: the CPU kernel accumulates in double and stores each product as float. */
    static float[] alphasCumprod(float[] betas) {
        float[] out = new float[betas.length];
        double acc = 1;
        for (int i = 0; i < betas.length; i++) {
            acc *= 1f - betas[i];
            out[i] = (float) acc;
        }
        return out;
    }

    /** {@code rescale_zero_terminal_snr} (arXiv 2305.08891, Algorithm 1) in float32. */
    static float[] rescaleZeroTerminalSnr(float[] betas) {
        float[] sqrtAlphaBar = alphasCumprod(betas);
        for (int i = 0; i < sqrtAlphaBar.length; i++) sqrtAlphaBar[i] = ScheduleMath.sqrt(sqrtAlphaBar[i]);
        float first = sqrtAlphaBar[0], last = sqrtAlphaBar[sqrtAlphaBar.length - 1];
        float scale = first / (first - last);
        float[] alphaBar = new float[betas.length];
        for (int i = 0; i < alphaBar.length; i++) {
            float s = (sqrtAlphaBar[i] - last) * scale;
            alphaBar[i] = s * s;
        }
        float[] out = new float[betas.length];
        for (int i = 0; i < out.length; i++) {
            float alpha = i == 0 ? alphaBar[0] : alphaBar[i] / alphaBar[i - 1];
            out[i] = 1 - alpha;
        }
        return out;
    }
}
