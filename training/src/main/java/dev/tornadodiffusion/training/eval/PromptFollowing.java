package dev.tornadodiffusion.training.eval;

import dev.tornadodiffusion.diffusion.pipelines.GenerationRequest;
import dev.tornadodiffusion.diffusion.pipelines.Pipeline;
import dev.tornadodiffusion.diffusion.pipelines.Progress;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.training.data.Shapes;

import java.util.ArrayList;
import java.util.List;

/**
 * Does a picture show what its shapes caption says? Every pixel is classified as its nearest palette colour, then each
 * cell of the 3x3 grid is checked: a cell the caption puts an item in must hold at least {@value #MIN_ITEM} of the
 * item's colour, more than of any other non-background colour; every other cell must be at least {@value #MIN_BACKGROUND}
 * background colour. A picture passes when all nine cells do (colour, position and background all right).
 */
public final class PromptFollowing {
    static final double MIN_ITEM = 0.05, MIN_BACKGROUND = 0.75;

    private PromptFollowing() {}

    /** One prompt's outcome: the background cells right, the item cells right, and both ({@code pass}). */
    public record Verdict(Shapes.Scene scene, boolean background, boolean items, Tensor image) {
        public boolean pass() { return background && items; }
    }

    /** The accuracy over prompts and each one's verdict. */
    public record Result(double accuracy, List<Verdict> verdicts) {
        public long passed() { return verdicts.stream().filter(Verdict::pass).count(); }

        /** Share of pictures whose background cells are all right (items aside). */
        public double backgroundAccuracy() { return (double) verdicts.stream().filter(Verdict::background).count() / verdicts.size(); }

        /** Share of pictures whose item cells are all right (background cells aside). */
        public double itemAccuracy() { return (double) verdicts.stream().filter(Verdict::items).count() / verdicts.size(); }
    }

    /** True when the [H, W, 3] image in [0, 1] shows {@code scene} (see the class comment). */
    public static boolean follows(Shapes.Scene scene, Tensor imageHWC) {
        boolean[] parts = check(scene, imageHWC);
        return parts[0] && parts[1];
    }

    /** {background cells right, item cells right}. */
    static boolean[] check(Shapes.Scene scene, Tensor imageHWC) {
        int h = imageHWC.dim(0), w = imageHWC.dim(1);
        int n = Shapes.Colour.values().length;
        int[][] counts = new int[9][n];
        int[] area = new int[9];
        float[] px = imageHWC.contiguousF32().array();
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int i = (y * w + x) * 3;
                Shapes.Colour c = Shapes.Colour.nearest(px[i] * 255, px[i + 1] * 255, px[i + 2] * 255);
                int cell = (y * 3 / h) * 3 + x * 3 / w;
                counts[cell][c.ordinal()]++;
                area[cell]++;
            }
        Shapes.Colour[] want = new Shapes.Colour[9];
        for (Shapes.Item it : scene.items()) want[it.position().row * 3 + it.position().col] = it.colour();
        int bg = scene.background().ordinal();
        boolean background = true, items = true;
        for (int cell = 0; cell < 9; cell++) {
            int[] c = counts[cell];
            if (want[cell] == null) {
                if (c[bg] < MIN_BACKGROUND * area[cell]) background = false;
                continue;
            }
            int item = want[cell].ordinal();
            if (c[item] < MIN_ITEM * area[cell]) items = false;
            for (int k = 0; k < n; k++) if (k != item && k != bg && c[k] >= c[item]) items = false;
        }
        return new boolean[]{background, items};
    }

    /**
     * Generates every scene's caption with {@code pipeline} (seed {@code seed + i}, the pipeline's default sampler) and
     * checks each picture; {@code steps} null uses the pipeline's default.
     */
    public static Result measure(Pipeline pipeline, List<Shapes.Scene> scenes, Integer steps, long seed) {
        return measure(pipeline, scenes, steps, null, seed);
    }

    /** {@link #measure(Pipeline, List, Integer, long)} with a guidance scale ({@code null}: the pipeline's default). */
    public static Result measure(Pipeline pipeline, List<Shapes.Scene> scenes, Integer steps, Float guidance, long seed) {
        List<Verdict> verdicts = new ArrayList<>(scenes.size());
        for (int i = 0; i < scenes.size(); i++) {
            Shapes.Scene s = scenes.get(i);
            GenerationRequest r = GenerationRequest.builder(s.caption()).steps(steps).guidanceScale(guidance).seed(seed + i).build();
            Tensor img = pipeline.generate(r, Progress.NONE).image(0);
            boolean[] parts = check(s, img);
            verdicts.add(new Verdict(s, parts[0], parts[1], img));
        }
        long pass = verdicts.stream().filter(Verdict::pass).count();
        return new Result(scenes.isEmpty() ? 0 : (double) pass / scenes.size(), verdicts);
    }
}
