package dev.tornadodiffusion.training.data;

import dev.tornadodiffusion.tensor.Tensor;

/** A training set of images with captions, read by index. */
public interface CaptionedImages {

    /**
     * One example: a [3, H, W] image in [-1, 1] (the VAE's input range) and its caption; or, from a {@link LatentCache},
     * the VAE posterior of the image ({@code posterior} [2 C, h, w]: mean then log-variance) instead of the image.
     */
    record Example(Tensor image, String caption, Tensor posterior) {
        public Example(Tensor image, String caption) { this(image, caption, null); }
    }

    int size();

    /** Square side of every image, in pixels. */
    int resolution();

    Example get(int index);

    /** An image as a [3, H, W] tensor in [-1, 1]. */
    static Tensor toTensor(java.awt.image.BufferedImage img) {
        int h = img.getHeight(), w = img.getWidth();
        float[] v = new float[3 * h * w];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int rgb = img.getRGB(x, y);
                v[y * w + x] = ((rgb >> 16) & 255) / 127.5f - 1;
                v[h * w + y * w + x] = ((rgb >> 8) & 255) / 127.5f - 1;
                v[2 * h * w + y * w + x] = (rgb & 255) / 127.5f - 1;
            }
        return Tensor.of(v, 3, h, w);
    }
}
