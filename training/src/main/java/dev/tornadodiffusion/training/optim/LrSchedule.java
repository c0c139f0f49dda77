package dev.tornadodiffusion.training.optim;

/**
 * Linear warm-up from 0 to {@code peak} over {@code warmup} steps, then a cosine decay to {@code peak * minRatio} at
 * {@code total} steps (diffusers' {@code get_cosine_schedule_with_warmup} with a floor).
 */
public record LrSchedule(double peak, int warmup, int total, double minRatio) {

    /** The learning rate of step {@code step} (0-based). */
    public double lr(long step) {
        if (step < warmup) return peak * (step + 1) / warmup;
        double progress = Math.min(1, (double) (step - warmup) / Math.max(1, total - warmup));
        return peak * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
    }
}
