package dev.tornadodiffusion.training.data;

import javax.imageio.ImageIO;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * A folder of captioned images: every {@code NAME.png|jpg|jpeg} with a {@code NAME.txt} beside it holding its caption
 * (the layout most fine-tuning tools use). Images are centre-cropped to a square and resized (bilinear) to
 * {@code resolution} when read.
 */
public final class ImageFolder implements CaptionedImages {
    private final List<Path> images;
    private final List<String> captions;
    private final int resolution;

    private ImageFolder(List<Path> images, List<String> captions, int resolution) {
        this.images = images;
        this.captions = captions;
        this.resolution = resolution;
    }

    /** Lists the folder; an image without a caption file, or a folder without images, is an error naming it. */
    public static ImageFolder open(Path dir, int resolution) throws IOException {
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException("dataset " + dir + " is not a folder");
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> {
                String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
                return n.endsWith(".png") || n.endsWith(".jpg") || n.endsWith(".jpeg");
            }).sorted().toList();
        }
        if (files.isEmpty()) throw new IllegalArgumentException("dataset " + dir + " holds no .png/.jpg images");
        List<String> captions = new ArrayList<>(files.size());
        for (Path f : files) {
            String n = f.getFileName().toString();
            Path txt = f.resolveSibling(n.substring(0, n.lastIndexOf('.')) + ".txt");
            if (!Files.isRegularFile(txt)) throw new IllegalArgumentException("dataset image " + f + " has no caption file " + txt.getFileName());
            captions.add(Files.readString(txt, StandardCharsets.UTF_8).trim());
        }
        return new ImageFolder(files, captions, resolution);
    }

    @Override public int size() { return images.size(); }

    @Override public int resolution() { return resolution; }

    @Override
    public Example get(int index) {
        Path f = images.get(index);
        BufferedImage img;
        try {
            img = ImageIO.read(f.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException("dataset image " + f + " cannot be read: " + e.getMessage());
        }
        if (img == null) throw new IllegalArgumentException("dataset image " + f + " is not a readable PNG/JPEG");
        return new Example(CaptionedImages.toTensor(squareResized(img, resolution)), captions.get(index));
    }

    private static BufferedImage squareResized(BufferedImage img, int side) {
        int s = Math.min(img.getWidth(), img.getHeight());
        BufferedImage crop = img.getSubimage((img.getWidth() - s) / 2, (img.getHeight() - s) / 2, s, s);
        BufferedImage out = new BufferedImage(side, side, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
            g.drawImage(crop, 0, 0, side, side, null);
        } finally {
            g.dispose();
        }
        return out;
    }
}
