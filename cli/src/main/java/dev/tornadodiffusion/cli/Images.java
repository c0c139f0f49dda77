package dev.tornadodiffusion.cli;

import dev.tornadodiffusion.tensor.Tensor;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reading init images: any format ImageIO knows (PNG, JPEG, BMP, GIF) -> [H, W, 3] in [0, 1]. */
public final class Images {
    private Images() {}

    public static Tensor read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new NoSuchFileException(file.toString());
        return decode(Files.readAllBytes(file), file.toString());
    }

    /** An encoded image ({@code source} names it in errors). */
    public static Tensor decode(byte[] bytes, String source) throws IOException {
        BufferedImage img = ImageIO.read(new java.io.ByteArrayInputStream(bytes));
        if (img == null) throw new IllegalArgumentException(source + ": not an image ImageIO can read (PNG, JPEG, BMP, GIF)");
        return toTensor(img);
    }

    /** An image as [H, W, 3] in [0, 1]. */
    public static Tensor toTensor(BufferedImage img) {
        int h = img.getHeight(), w = img.getWidth();
        float[] px = new float[h * w * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int rgb = img.getRGB(x, y), o = (y * w + x) * 3;
                px[o] = ((rgb >> 16) & 0xff) / 255f;
                px[o + 1] = ((rgb >> 8) & 0xff) / 255f;
                px[o + 2] = (rgb & 0xff) / 255f;
            }
        return Tensor.of(px, h, w, 3);
    }
}
