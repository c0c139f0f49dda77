package dev.tornadodiffusion.training.data;

import java.util.SplittableRandom;

/**
 * {@code size} examples of {@link Shapes} at {@code resolution} pixels: example i is a function of (seed, i) only, so a
 * run sees the same pictures whatever order it reads them in. {@code heldOut} picks the held-out side of the split.
 */
public record ShapesDataset(long seed, int size, int resolution, boolean heldOut) implements CaptionedImages {

    public ShapesDataset {
        if (size <= 0) throw new IllegalArgumentException("shapes dataset size must be positive, got " + size);
        if (resolution < 24) throw new IllegalArgumentException("shapes images need at least 24 pixels, got " + resolution);
    }

    /** The scene of example {@code index}. */
    public Shapes.Scene scene(int index) {
        return Shapes.randomScene(random(index), heldOut);
    }

    @Override
    public Example get(int index) {
        if (index < 0 || index >= size) throw new IndexOutOfBoundsException("example " + index + " of " + size);
        SplittableRandom r = random(index);
        Shapes.Scene s = Shapes.randomScene(r, heldOut);
        return new Example(CaptionedImages.toTensor(s.render(resolution, r)), s.caption());
    }

    private SplittableRandom random(int index) {
        return new SplittableRandom(seed * 0x9E3779B97F4A7C15L + index);
    }
}
