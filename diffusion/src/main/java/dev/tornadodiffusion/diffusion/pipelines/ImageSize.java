package dev.tornadodiffusion.diffusion.pipelines;

import java.util.Locale;

/**
 * The size a pipeline renders at, and how it was chosen ({@link #rule}, said to the user). One rule for the init image
 * of every image-to-image pipeline, as diffusers' {@code VaeImageProcessor} and A1111: the requested width / height
 * where given, otherwise the init image's own, rounded down to a multiple of the VAE factor; the image is resized
 * (Lanczos) to that size. Every size is bounded by {@link #MAX_PIXELS}.
 */
public record ImageSize(int width, int height, String rule) {
    /** The largest image a pipeline renders (2048 x 2048): larger requests are refused before any work. */
    public static final long MAX_PIXELS = 2048L * 2048;

    public ImageSize {
        if ((long) width * height > MAX_PIXELS)
            throw new IllegalArgumentException(rule + ": " + width + "x" + height + " is above the pipelines' limit of " + MAX_PIXELS
                    + " pixels (2048x2048)" + (rule.startsWith("init image") ? ": pass a smaller --width/--height" : ""));
    }

    /** A text-to-image size: the requested one, else the pipeline's default. */
    static ImageSize requested(Integer width, Integer height, int defaultWidth, int defaultHeight) {
        return new ImageSize(width == null ? defaultWidth : width, height == null ? defaultHeight : height, "size");
    }

    /**
     * The output size of image-to-image from an {@code imageWidth x imageHeight} init image: each side as requested
     * (non-null), else the image's rounded down to a multiple of {@code multiple} (at least one multiple).
     */
    public static ImageSize initImage(int imageWidth, int imageHeight, Integer width, Integer height, int multiple) {
        int w = width != null ? width : roundDown(imageWidth, multiple), h = height != null ? height : roundDown(imageHeight, multiple);
        String how = width != null || height != null ? "resized to the requested size"
                : w == imageWidth && h == imageHeight ? "its own size" : "its size rounded down to a multiple of " + multiple;
        String rule = String.format(Locale.ROOT, "init image %dx%d -> %dx%d (%s)", imageWidth, imageHeight, w, h, how);
        return new ImageSize(w, h, rule);
    }

    private static int roundDown(int side, int multiple) {
        return Math.max(multiple, side / multiple * multiple);
    }
}
