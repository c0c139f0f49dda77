package dev.tornadodiffusion.cli;

import dev.tornadodiffusion.diffusion.image.Png;
import dev.tornadodiffusion.tensor.Tensor;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageReader;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.ImageOutputStream;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Where {@code generate} writes its images, decided and checked before anything is loaded: {@code --out} names a
 * .png, .jpg or .jpeg file (a batch adds -0, -1, ...), an existing file is refused unless {@code --overwrite}, its folder
 * must be writable; without {@code --out} the names are out/DATE-TIME-SEED-I.png, never an existing file.
 */
final class Outputs {
    private Outputs() {}

    static List<Path> plan(String out, boolean overwrite, long seed, int count) {
        List<Path> paths = new ArrayList<>();
        if (out == null) {
            String stem = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")) + "-" + seed;
            for (int i = 0; i < count; i++) {
                Path p = Path.of("out", stem + "-" + i + ".png");
                for (int k = 2; Files.exists(p); k++) p = Path.of("out", stem + "-" + i + "-" + k + ".png");
                paths.add(p);
            }
        } else {
            String ext = extension(out);
            if (!List.of("png", "jpg", "jpeg").contains(ext))
                throw new UsageException("--out " + out + ": unknown image type '" + (ext.isEmpty() ? "(none)" : "." + ext) + "' (use .png, .jpg or .jpeg)");
            String base = out.substring(0, out.length() - ext.length() - 1);
            for (int i = 0; i < count; i++) paths.add(Path.of(count == 1 ? out : base + "-" + i + "." + ext));
        }
        for (Path p : paths) {
            if (Files.isDirectory(p)) throw new UsageException("--out " + p + " is a folder");
            if (Files.exists(p) && !overwrite) throw new UsageException("--out " + p + " exists; pass --overwrite to replace it");
            Path dir = p.toAbsolutePath().getParent();
            while (dir != null && !Files.exists(dir)) dir = dir.getParent();
            if (dir == null || !Files.isDirectory(dir) || !Files.isWritable(dir) || !takesFiles(dir))
                throw new UsageException("--out " + p + ": cannot write there (" + (dir == null ? "no such folder" : dir + " is not a writable folder") + ")");
        }
        return paths;
    }

    /** Whether a file can be made in {@code dir}: permission bits do not say it for root, read-only mounts or /proc. */
    private static boolean takesFiles(Path dir) {
        try {
            Files.delete(Files.createTempFile(dir, ".diffuse-", ".probe"));
            return true;
        } catch (IOException | SecurityException e) {
            return false;
        }
    }

    static String extension(String file) {
        String name = Path.of(file).getFileName() == null ? "" : Path.of(file).getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dot < 0 ? "" : name.substring(dot + 1).toLowerCase(Locale.ROOT);
    }

    /** The comment (COM segment) of a JPEG, where {@link #write} puts the parameters; null if it has none. */
    static String jpegComment(Path file) throws IOException {
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            var readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) throw new IllegalArgumentException(file + ": not an image ImageIO can read");
            ImageReader reader = readers.next();
            try {
                reader.setInput(in);
                if (!reader.getFormatName().equalsIgnoreCase("jpeg")) throw new IllegalArgumentException(file + ": not a JPEG or PNG");
                var com = ((IIOMetadataNode) reader.getImageMetadata(0).getAsTree("javax_imageio_jpeg_image_1.0")).getElementsByTagName("com");
                return com.getLength() == 0 ? null : new String((byte[]) ((IIOMetadataNode) com.item(0)).getUserObject(), java.nio.charset.StandardCharsets.UTF_8);
            } finally {
                reader.dispose();
            }
        }
    }

    /** PNG with the text chunks, or JPEG (quality 0.95) with the parameters as its comment. */
    static void write(Path file, Tensor image, Map<String, String> text) throws IOException {
        if (file.getParent() != null) Files.createDirectories(file.getParent());
        if (extension(file.toString()).equals("png")) {
            Png.write(file, image, text);
            return;
        }
        int h = image.dim(0), w = image.dim(1);
        float[] px = image.contiguousF32().array();
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int o = (y * w + x) * 3;
                img.setRGB(x, y, Png.toByte(px[o]) << 16 | Png.toByte(px[o + 1]) << 8 | Png.toByte(px[o + 2]));
            }
        ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
        ImageWriteParam param = writer.getDefaultWriteParam();
        param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
        param.setCompressionQuality(0.95f);
        IIOMetadata meta = writer.getDefaultImageMetadata(ImageTypeSpecifier.createFromRenderedImage(img), param);
        String format = "javax_imageio_jpeg_image_1.0";
        IIOMetadataNode root = (IIOMetadataNode) meta.getAsTree(format);
        IIOMetadataNode comment = new IIOMetadataNode("com");
        comment.setUserObject(text.getOrDefault("parameters", "").getBytes(java.nio.charset.StandardCharsets.UTF_8));
        ((IIOMetadataNode) root.getElementsByTagName("markerSequence").item(0)).appendChild(comment);
        meta.setFromTree(format, root);
        Files.deleteIfExists(file);
        try (ImageOutputStream out = ImageIO.createImageOutputStream(file.toFile())) {
            writer.setOutput(out);
            writer.write(null, new IIOImage(img, null, meta), param);
        } finally {
            writer.dispose();
        }
    }
}
