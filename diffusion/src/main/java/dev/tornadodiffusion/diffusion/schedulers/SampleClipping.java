package dev.tornadodiffusion.diffusion.schedulers;

/**
 * What becomes of the predicted clean sample before it is used: Imagen's dynamic {@code thresholding}
 * ({@code dynamic_thresholding_ratio}, {@code sample_max_value}), else {@code clip_sample} to
 * {@code clip_sample_range}. The multistep solvers have thresholding only (clipping off).
 */
record SampleClipping(boolean clipSample, float clipSampleRange, boolean thresholding, double dynamicThresholdingRatio, double sampleMaxValue) {

    /** The config's settings; {@code clipDefault}: the class default of clip_sample, null for a class without it. */
    static SampleClipping read(SchedulerConfig config, Boolean clipDefault) {
        return new SampleClipping(clipDefault != null && config.getBoolean("clip_sample", clipDefault),
                (float) config.getDouble("clip_sample_range", 1.0), config.getBoolean("thresholding", false),
                config.getDouble("dynamic_thresholding_ratio", 0.995), config.getDouble("sample_max_value", 1.0));
    }

    /** x0 thresholded or clipped (a new array), or x0 itself when neither is on; {@code batch} rows for the per-sample threshold. */
    float[] apply(float[] x0, int batch) {
        if (thresholding) return AbstractScheduler.thresholdSample(x0, batch, dynamicThresholdingRatio, sampleMaxValue);
        return clipSample ? AbstractScheduler.clamp(x0, clipSampleRange) : x0;
    }
}
