package dev.tornadodiffusion.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code diffuse generate} as README runs it: the bundled model, a PNG carrying its parameters, one-line errors. */
class GenerateCommandTest {
    static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    static final Path TINY = ROOT.resolve("models/tiny-sd");

    record Run(int code, String out, String err) {}

    static Run diffuse(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8); PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            System.setOut(o);
            System.setErr(e);
            int code = Diffuse.run(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void bundledModelWritesAPngWithItsParameters(@TempDir Path dir) throws Exception {
        Path png = dir.resolve("fox.png");
        Run r = diffuse("generate", "--model", TINY.toString(), "--prompt", "a red fox", "--steps", "3", "--seed", "42",
                "--width", "32", "--height", "24", "--out", png.toString());
        assertEquals(0, r.code(), r.err());
        assertFalse(r.err().contains("RANDOM weights"), "the bundled model is trained, not random: " + r.err());
        assertTrue(r.err().contains("step 3/3") && r.err().contains("s/it"), r.err());
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(32, img.getWidth());
        assertEquals(24, img.getHeight());
        String params = textChunk(png, "parameters");
        assertTrue(params.startsWith("a red fox\n"), params);
        assertTrue(params.contains("Steps: 3") && params.contains("Seed: 42") && params.contains("Size: 32x24"), params);

        Path again = dir.resolve("again.png");
        assertEquals(0, diffuse("generate", "--model", TINY.toString(), "--prompt", "a red fox", "--steps", "3", "--seed", "42",
                "--width", "32", "--height", "24", "--out", again.toString()).code());
        assertTrue(java.util.Arrays.equals(Files.readAllBytes(png), Files.readAllBytes(again)), "same seed, same image");
    }

    @Test
    void inpaintsWithAMaskAndWritesPreviews(@TempDir Path dir) throws Exception {
        Path init = dir.resolve("init.png"), mask = dir.resolve("mask.png"), out = dir.resolve("cat.png");
        assertEquals(0, diffuse("generate", "--model", TINY.toString(), "--prompt", "a red fox", "--steps", "2",
                "--width", "32", "--height", "32", "--out", init.toString()).code());
        BufferedImage m = new BufferedImage(32, 32, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 8; y < 24; y++) for (int x = 8; x < 24; x++) m.getRaster().setSample(x, y, 0, 255);
        ImageIO.write(m, "png", mask.toFile());
        Run r = diffuse("generate", "--model", TINY.toString(), "--prompt", "a (cat:1.2)", "--steps", "2", "--sampler", "DPM++ 2M Karras",
                "--init-image", init.toString(), "--mask", mask.toString(), "--preview-every", "1", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.isRegularFile(dir.resolve("cat-preview.png")), r.err());
        assertTrue(r.err().contains("generate: init image 32x32 -> 32x32 (its own size)"), "the size rule is said: " + r.err());
        assertEquals(32, ImageIO.read(out.toFile()).getWidth(), "rendered at the init image's size, not the model's 64");
        String params = textChunk(out, "parameters");
        assertTrue(params.contains("Sampler: DPM++ 2M Karras") && params.contains("Denoising strength: 1.0"), params);
    }

    @Test
    void badArgumentsAreOneLineErrorsWithUsage(@TempDir Path dir) {
        for (String[] args : new String[][]{
                {"generate"},
                {"generate", "--prompt", "x", "--steps", "many"},
                {"generate", "--prompt", "x", "--width", "30"},
                {"generate", "--prompt", "x", "--bogus", "1"},
                {"generate", "--prompt", "x", "--mask", "m.png"},
                {"generate", "--prompt", "x", "--sampler", "DPM fast"},
                {"generate", "--prompt", "x", "--vae-tiny", dir.resolve("missing").toString()},
                {"generate", "--prompt", "x", "--model", dir.resolve("missing").toString()}}) {
            Run r = diffuse(args);
            assertEquals(2, r.code(), String.join(" ", args));
            String first = r.err().lines().findFirst().orElse("");
            assertTrue(first.startsWith("diffuse generate: "), r.err());
            assertTrue(r.err().contains("usage: diffuse generate"), r.err());
            assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
        }
        Run notPipeline = diffuse("generate", "--prompt", "x", "--model", dir.toString());
        assertEquals(1, notPipeline.code());
        assertTrue(notPipeline.err().contains("not a pipeline folder"), notPipeline.err());
        assertEquals(1, notPipeline.err().lines().count(), notPipeline.err());
    }

    static String textChunk(Path png, String keyword) throws Exception {
        try (ImageInputStream in = ImageIO.createImageInputStream(png.toFile())) {
            var reader = ImageIO.getImageReadersByFormatName("png").next();
            reader.setInput(in);
            IIOMetadataNode root = (IIOMetadataNode) reader.getImageMetadata(0).getAsTree("javax_imageio_png_1.0");
            var entries = root.getElementsByTagName("tEXtEntry");
            for (int i = 0; i < entries.getLength(); i++) {
                IIOMetadataNode e = (IIOMetadataNode) entries.item(i);
                if (e.getAttribute("keyword").equals(keyword)) return e.getAttribute("value");
            }
        }
        throw new AssertionError("no tEXt chunk " + keyword + " in " + png);
    }
}
