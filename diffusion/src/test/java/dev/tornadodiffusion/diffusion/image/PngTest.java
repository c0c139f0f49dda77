package dev.tornadodiffusion.diffusion.image;

import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class PngTest {
    @Test
    void decodesToTheSamePixelsAndCarriesParameters() throws Exception {
        int h = 5, w = 7;
        float[] px = new float[h * w * 3];
        for (int i = 0; i < px.length; i++) px[i] = (i % 11) / 10f - 0.05f;  // includes values outside [0, 1]
        byte[] png = Png.encode(Tensor.of(px, h, w, 3), Map.of("parameters", "a cat\nSteps: 4, Seed: 42"));

        BufferedImage img = ImageIO.read(new ByteArrayInputStream(png));
        assertEquals(w, img.getWidth());
        assertEquals(h, img.getHeight());
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int rgb = img.getRGB(x, y), o = (y * w + x) * 3;
                assertEquals(Png.toByte(px[o]), (rgb >> 16) & 0xff);
                assertEquals(Png.toByte(px[o + 1]), (rgb >> 8) & 0xff);
                assertEquals(Png.toByte(px[o + 2]), rgb & 0xff);
            }

        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(png))) {
            var reader = ImageIO.getImageReadersByFormatName("png").next();
            reader.setInput(in);
            IIOMetadataNode root = (IIOMetadataNode) reader.getImageMetadata(0).getAsTree("javax_imageio_png_1.0");
            IIOMetadataNode entry = (IIOMetadataNode) root.getElementsByTagName("tEXtEntry").item(0);
            assertEquals("parameters", entry.getAttribute("keyword"));
            assertEquals("a cat\nSteps: 4, Seed: 42", entry.getAttribute("value"));
        }
    }

    @Test
    void textOutsideLatin1IsKeptAsUtf8(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        String unicode = "a \uD83E\uDD8A in \u6771\u4EAC, caf\u00E9\nSteps: 4, Seed: 42", latin1 = "caf\u00E9 au lait\nSteps: 2";
        java.nio.file.Path file = dir.resolve("t.png");
        Png.write(file, Tensor.zeros(2, 2, 3), new java.util.LinkedHashMap<>(Map.of("parameters", unicode, "comment", latin1)));
        assertEquals(Map.of("parameters", unicode, "comment", latin1), Png.readText(file));
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            var reader = ImageIO.getImageReadersByFormatName("png").next();
            reader.setInput(in);
            IIOMetadataNode root = (IIOMetadataNode) reader.getImageMetadata(0).getAsTree("javax_imageio_png_1.0");
            assertEquals("parameters", ((IIOMetadataNode) root.getElementsByTagName("iTXtEntry").item(0)).getAttribute("keyword"));
            assertEquals("comment", ((IIOMetadataNode) root.getElementsByTagName("tEXtEntry").item(0)).getAttribute("keyword"), "Latin-1 text stays tEXt, as PIL writes it");
        }
    }

    @Test
    void roundsLikeDiffusers() {
        assertEquals(0, Png.toByte(-0.3f));
        assertEquals(255, Png.toByte(1.7f));
        assertEquals(128, Png.toByte(0.5f));   // 127.5 rounds to the even 128
        assertEquals(126, Png.toByte(126.5f / 255f));  // 126.5 rounds to the even 126, as numpy
        assertEquals(1, Png.toByte(0.5f / 255f + 1e-6f));
    }
}
