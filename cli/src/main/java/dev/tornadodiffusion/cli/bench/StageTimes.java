package dev.tornadodiffusion.cli.bench;

import dev.tornadodiffusion.diffusion.pipelines.Progress;
import dev.tornadodiffusion.tensor.Tensor;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Stage timings of pipeline generations from the {@link Progress} callbacks: a stage lasts from its
 * {@link Progress#stage} call to the next one (the last to {@link #finish()}), and every denoising step reports its
 * own seconds. Printed as the median over the timed generations.
 */
public final class StageTimes implements Progress, Recorder {
    private final int imagesPerRun;
    private final List<Map<String, Double>> stagesPerRun = new ArrayList<>();
    private final List<Double> steps = new ArrayList<>();
    private Map<String, Double> current;
    private String stage;
    private long stageStart;

    /** @param imagesPerRun images one generation makes (its batch), for images per minute */
    public StageTimes(int imagesPerRun) { this.imagesPerRun = imagesPerRun; }

    @Override
    public void stage(String name) {
        long now = System.nanoTime();
        if (current == null) stagesPerRun.add(current = new LinkedHashMap<>());
        else endStage(now);
        stage = name.startsWith("denoise") ? "denoise" : name;   // "denoise: N steps"
        stageStart = now;
    }

    @Override
    public void step(int step, int total, double secondsPerStep, Tensor latents) { steps.add(secondsPerStep); }

    /** Ends the generation's last stage; call when generate returns. */
    public void finish() {
        endStage(System.nanoTime());
        current = null;
    }

    private void endStage(long now) {
        current.merge(stage, (now - stageStart) / 1e9, Double::sum);
    }

    @Override
    public void reset() {
        stagesPerRun.clear();
        steps.clear();
    }

    @Override
    public void print(PrintStream out, int runs) {
        Map<String, List<Double>> byStage = new LinkedHashMap<>();
        List<Double> totals = new ArrayList<>();
        for (Map<String, Double> run : stagesPerRun) {
            run.forEach((k, v) -> byStage.computeIfAbsent(k, x -> new ArrayList<>()).add(v));
            totals.add(run.values().stream().mapToDouble(Double::doubleValue).sum());
        }
        out.printf(Locale.ROOT, "stages (median of %d generations):%n", stagesPerRun.size());
        byStage.forEach((k, v) -> out.printf(Locale.ROOT, "  %-14s %8.3f s%n", k, median(v)));
        if (!steps.isEmpty())
            out.printf(Locale.ROOT, "  %-14s %8.3f s/it (median of %d steps), best %.3f s/it%n", "denoiser step", median(steps), steps.size(),
                    steps.stream().mapToDouble(Double::doubleValue).min().orElse(0));
        double total = median(totals);
        out.printf(Locale.ROOT, "  %-14s %8.3f s per generation of %d image(s): %.2f images/min%n", "total", total, imagesPerRun, 60 * imagesPerRun / total);
    }

    static double median(List<Double> values) {
        double[] v = values.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(v);
        return v.length == 0 ? 0 : v[v.length / 2];
    }
}
