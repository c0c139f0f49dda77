package dev.tornadodiffusion.cli;

import dev.tornadodiffusion.diffusion.image.Png;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.tornadodiffusion.cli.GenerateCommandTest.TINY;
import static dev.tornadodiffusion.cli.GenerateCommandTest.diffuse;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** generate's promises: reproducible from its PNG, JPEG or PNG only, no silent overwrite, random seeds recorded, early one-line refusals, --help. */
class GenerateChecksTest {
    static int[] pixels(Path file) throws Exception {
        BufferedImage img = ImageIO.read(file.toFile());
        return img.getRGB(0, 0, img.getWidth(), img.getHeight(), null, 0, img.getWidth());
    }

    @Test
    void aPngsParametersReproduceTheImage(@TempDir Path dir) throws Exception {
        Path a = dir.resolve("a.png"), b = dir.resolve("b.png");
        String prompt = "a \uD83E\uDD8A fox in \u6771\u4EAC\nat night";
        var r = diffuse("generate", "--model", TINY.toString(), "--prompt", prompt, "--negative", "blurry", "--steps", "3", "--seed", "42",
                "--sampler", "euler-a", "--guidance", "5", "--guidance-rescale", "0.5", "--width", "16", "--height", "24", "--out", a.toString());
        assertEquals(0, r.code(), r.err());
        String recorded = Png.readText(a).get("parameters");
        assertTrue(recorded.startsWith(prompt + "\nNegative prompt: blurry\n"), "UTF-8 kept: " + recorded);
        r = diffuse("generate", "--model", TINY.toString(), "--from-png", a.toString(), "--out", b.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(recorded, Png.readText(b).get("parameters"));
        assertArrayEquals(pixels(a), pixels(b), "the same settings make the same image");

        Path c = dir.resolve("c.png");  // later options win over the recorded ones
        assertEquals(0, diffuse("generate", "--model", TINY.toString(), "--from-png", a.toString(), "--seed", "43", "--out", c.toString()).code());
        assertTrue(Png.readText(c).get("parameters").contains("Seed: 43"));
        assertFalse(java.util.Arrays.equals(pixels(a), pixels(c)));
    }

    /** As A1111: image i of a batch has seed + i, recorded in its PNG, and its PNG makes that image again on its own. */
    @Test
    void eachImageOfABatchHasItsOwnSeedAndItsPngMakesItAlone(@TempDir Path dir) throws Exception {
        Path batch = dir.resolve("b.png"), alone = dir.resolve("alone.png");
        var r = diffuse("generate", "--model", TINY.toString(), "--prompt", "a red square", "--steps", "2", "--seed", "7", "--batch", "3",
                "--sampler", "Euler a", "--width", "16", "--height", "16", "--out", batch.toString());
        assertEquals(0, r.code(), r.err());
        for (int i = 0; i < 3; i++) {
            String text = Png.readText(dir.resolve("b-" + i + ".png")).get("parameters");
            assertTrue(text.contains("Seed: " + (7 + i) + ","), text);
        }
        assertFalse(java.util.Arrays.equals(pixels(dir.resolve("b-0.png")), pixels(dir.resolve("b-1.png"))));
        r = diffuse("generate", "--model", TINY.toString(), "--from-png", dir.resolve("b-2.png").toString(), "--out", alone.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.isRegularFile(alone), "one image: " + r.out());
        assertArrayEquals(pixels(dir.resolve("b-2.png")), pixels(alone), "seed 9 alone is the batch's third image");
        assertTrue(Png.readText(alone).get("parameters").contains("Seed: 9,"));
    }

    @Test
    void loadOptionsRefinerAndLiteralPromptAreRecordedAndReadBack() {
        var options = new dev.tornadodiffusion.diffusion.pipelines.LoadOptions("fp16", Path.of("u, v.safetensors"),
                List.of(new dev.tornadodiffusion.diffusion.pipelines.LoadOptions.Lora(Path.of("a.safetensors"), 0.5f),
                        new dev.tornadodiffusion.diffusion.pipelines.LoadOptions.Lora(Path.of("b.safetensors"), 1f)), Path.of("taesd"));
        String text = InfoText.withLoad(java.util.Map.of("parameters", "a cat\nSteps: 3, Seed: 1"), options, "refiner-dir", 0.8f, true).get("parameters");
        assertEquals("a cat\nSteps: 3, Seed: 1, Lora: \"a.safetensors:0.5,b.safetensors:1.0\", UNet: \"u, v.safetensors\", Variant: fp16, Tiny VAE: taesd,"
                + " Refiner: refiner-dir, Refiner switch at: 0.8, Literal prompt: true", text);
        List<String> o = InfoText.options(text, Path.of("x.png"));
        assertEquals(List.of("--prompt", "a cat", "--steps", "3", "--seed", "1", "--lora", "a.safetensors:0.5,b.safetensors:1.0",
                "--unet", "u, v.safetensors", "--variant", "fp16", "--vae-tiny", "taesd", "--refiner", "refiner-dir", "--denoising-end", "0.8",
                "--literal-prompt"), o);
        assertEquals("a cat\nSteps: 3", InfoText.withLoad(java.util.Map.of("parameters", "a cat\nSteps: 3"),
                dev.tornadodiffusion.diffusion.pipelines.LoadOptions.DEFAULT, null, null, false).get("parameters"), "nothing added when nothing was set");
    }

    @Test
    void writesJpegOrPngAndRefusesOtherTypes(@TempDir Path dir) throws Exception {
        Path jpg = dir.resolve("fox.JPG");
        var r = diffuse("generate", "--model", TINY.toString(), "--prompt", "a fox", "--steps", "2", "--seed", "3", "--width", "16", "--height", "16", "--out", jpg.toString());
        assertEquals(0, r.code(), r.err());
        try (ImageInputStream in = ImageIO.createImageInputStream(jpg.toFile())) {
            var reader = ImageIO.getImageReaders(in).next();
            assertEquals("jpeg", reader.getFormatName().toLowerCase());
            reader.setInput(in);
            assertEquals(16, reader.read(0).getWidth());
            IIOMetadataNode com = (IIOMetadataNode) ((IIOMetadataNode) reader.getImageMetadata(0).getAsTree("javax_imageio_jpeg_image_1.0"))
                    .getElementsByTagName("com").item(0);
            assertTrue(new String((byte[]) com.getUserObject(), StandardCharsets.UTF_8).contains("Seed: 3"));
        }
        for (String bad : List.of("fox.gif", "fox", "fox.png.txt")) {
            r = diffuse("generate", "--model", TINY.toString(), "--prompt", "a fox", "--out", dir.resolve(bad).toString());
            assertEquals(2, r.code(), bad);
            assertTrue(r.err().lines().findFirst().orElse("").contains("unknown image type"), r.err());
            assertFalse(r.err().contains("loaded in"), "refused before loading: " + r.err());
        }
    }

    @Test
    void neverOverwritesSilently(@TempDir Path dir) throws Exception {
        Path png = dir.resolve("x.png");
        Files.writeString(png, "keep me");
        var r = diffuse("generate", "--model", TINY.toString(), "--prompt", "a fox", "--steps", "2", "--width", "16", "--height", "16", "--out", png.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("exists; pass --overwrite"), r.err());
        assertEquals("keep me", Files.readString(png));
        assertEquals(0, diffuse("generate", "--model", TINY.toString(), "--prompt", "a fox", "--steps", "2", "--width", "16", "--height", "16",
                "--out", png.toString(), "--overwrite").code());
        assertEquals(16, ImageIO.read(png.toFile()).getWidth());
    }

    /** A JPEG's comment holds the same parameters, and --from-png reads them back from it. */
    @Test
    void aJpegsParametersReproduceTheImageToo(@TempDir Path dir) throws Exception {
        Path jpg = dir.resolve("a.jpg"), png = dir.resolve("a.png"), again = dir.resolve("b.png");
        String[] settings = {"--prompt", "a fox", "--steps", "2", "--seed", "11", "--width", "16", "--height", "16"};
        assertEquals(0, diffuse(cat(new String[]{"generate", "--model", TINY.toString(), "--out", jpg.toString()}, settings)).code());
        assertEquals(0, diffuse(cat(new String[]{"generate", "--model", TINY.toString(), "--out", png.toString()}, settings)).code());
        var r = diffuse("generate", "--model", TINY.toString(), "--from-png", jpg.toString(), "--out", again.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(Png.readText(png).get("parameters"), Png.readText(again).get("parameters"));
        assertArrayEquals(pixels(png), pixels(again));
    }

    /** A1111 1.9+ writes the sigma schedule as its own key; Karras is read into the sampler, an unsupported one refused. */
    @Test
    void a1111sScheduleTypeIsReadIntoTheSampler() {
        assertEquals(List.of("--prompt", "a cat", "--steps", "20", "--sampler", "dpm++2m-karras", "--seed", "5"),
                InfoText.options("a cat\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Karras, Seed: 5", Path.of("x.png")));
        assertEquals(List.of("--prompt", "a cat", "--steps", "20", "--sampler", "euler-a"),
                InfoText.options("a cat\nSteps: 20, Sampler: Euler a, Schedule type: Automatic", Path.of("x.png")));
        var e = org.junit.jupiter.api.Assertions.assertThrows(UsageException.class,
                () -> InfoText.options("a cat\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Exponential", Path.of("x.png")));
        assertTrue(e.getMessage().contains("Schedule type 'Exponential' is not supported"), e.getMessage());
    }

    static String[] cat(String[] a, String[] b) {
        String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    /** A folder that refuses files is found out before the model loads, whatever its permission bits say (root's are all yes). */
    @Test
    void anUnwritableOutputFolderIsRefusedBeforeLoading() {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(Path.of("/proc/self")), "needs Linux's /proc");
        var r = diffuse("generate", "--model", TINY.toString(), "--prompt", "a fox", "--out", "/proc/fox.png");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().startsWith("diffuse generate: --out /proc/fox.png: cannot write there"), r.err());
        assertFalse(r.err().contains("loaded in"), "refused before loading: " + r.err());
    }

    @Test
    void defaultNamesDoNotCollide() throws Exception {
        List<Path> first = Outputs.plan(null, false, 7, 2);
        assertNotEquals(first.get(0), first.get(1));
        Files.createDirectories(first.get(0).getParent());
        try {
            Files.writeString(first.get(0), "taken");
            List<Path> second = Outputs.plan(null, false, 7, 1);
            assertNotEquals(first.get(0), second.get(0));
            assertFalse(Files.exists(second.get(0)));
        } finally {
            Files.delete(first.get(0));
        }
    }

    @Test
    void theDefaultSeedIsRandomPrintedAndRecorded(@TempDir Path dir) throws Exception {
        long[] seeds = new long[2];
        for (int i = 0; i < 2; i++) {
            Path png = dir.resolve(i + ".png");
            String[] seedArgs = i == 0 ? new String[0] : new String[]{"--seed", "-1"};
            String[] args = java.util.stream.Stream.concat(java.util.stream.Stream.of("generate", "--model", TINY.toString(), "--prompt", "a fox",
                    "--steps", "1", "--width", "16", "--height", "16", "--out", png.toString()), java.util.Arrays.stream(seedArgs)).toArray(String[]::new);
            var r = diffuse(args);
            assertEquals(0, r.code(), r.err());
            Matcher m = Pattern.compile("generate: seed (\\d+) \\(random\\)").matcher(r.err());
            assertTrue(m.find(), r.err());
            seeds[i] = Long.parseLong(m.group(1));
            assertTrue(Png.readText(png).get("parameters").contains("Seed: " + seeds[i]));
        }
        assertNotEquals(seeds[0], seeds[1], "two random seeds (1 in 2^32 to fail by chance)");
    }

    @Test
    void badSettingsAreRefusedBeforeLoading(@TempDir Path dir) throws Exception {
        Path init = dir.resolve("init.png");
        ImageIO.write(new BufferedImage(16, 16, BufferedImage.TYPE_INT_RGB), "png", init.toFile());
        Path noRoom = dir.resolve("file");
        Files.writeString(noRoom, "");
        String[][] cases = {
                {"--guidance", "NaN", "--guidance must be a number"},
                {"--guidance", "Infinity", "--guidance must be a number"},
                {"--guidance", "-1", "--guidance must be a number"},
                {"--guidance-rescale", "2", "--guidance-rescale must be"},
                {"--sampler", "frobnicate", "--sampler: unknown sampler 'frobnicate' (known: Euler, Euler a,"},
                {"--steps", "0", "--steps must be in 1..1000"},
                {"--steps", "5000", "--steps must be in 1..1000"},
                {"--batch", "0", "--batch must be in 1..64"},
                {"--strength", "0.5", "--strength applies to image-to-image"},
                {"--clip-skip", "99", "--clip-skip must be in 0.."},
                {"--clip-skip", "-1", "--clip-skip must be >= 0"},
                {"--denoising-end", "1.5", "--denoising-end must be in (0, 1)"},
                {"--refiner", TINY.toString(), "both must be SDXL pipelines"},
                {"--out", noRoom.resolve("x.png").toString(), "cannot write there"},
                {"--lora", dir.resolve("gone.safetensors") + ":0.5", "--lora " + dir.resolve("gone.safetensors") + ": no such file"},
                {"--unet", dir.resolve("gone").toString(), "--unet " + dir.resolve("gone") + ": no such file or folder"},
                {"--refiner", dir.resolve("gone").toString(), "--refiner " + dir.resolve("gone") + " is not a pipeline folder"}};
        for (String[] c : cases) {
            var r = diffuse("generate", "--model", TINY.toString(), "--prompt", "x", c[0], c[1]);
            assertEquals(2, r.code(), String.join(" ", c) + ": " + r.err());
            String first = r.err().lines().findFirst().orElse("");
            assertTrue(first.startsWith("diffuse generate: ") && first.contains(c[2]), String.join(" ", c) + ": " + r.err());
            assertFalse(r.err().contains("loaded in") || r.err().contains("\tat "), r.err());
        }
        var strength = diffuse("generate", "--model", TINY.toString(), "--prompt", "x", "--init-image", init.toString(), "--strength", "2");
        assertEquals(2, strength.code());
        assertTrue(strength.err().contains("--strength must be in (0, 1]"), strength.err());
        Path photo = dir.resolve("photo.png");
        ImageIO.write(new BufferedImage(3000, 2000, BufferedImage.TYPE_INT_RGB), "png", photo.toFile());
        var big = diffuse("generate", "--model", TINY.toString(), "--prompt", "x", "--init-image", photo.toString());
        assertEquals(2, big.code(), big.err());
        assertTrue(big.err().contains("init image 3000x2000 -> 3000x2000 (its own size): 3000x2000 is above the pipelines' limit"), big.err());
        assertFalse(big.err().contains("loaded in"), big.err());
    }

    @Test
    void everyCommandAnswersHelp() {
        for (Command c : Diffuse.COMMANDS)
            for (String flag : List.of("--help", "-h")) {
                var r = diffuse(c.name(), flag);
                assertEquals(0, r.code(), c.name() + " " + flag + ": " + r.err());
                assertTrue(r.out().startsWith("usage: diffuse " + c.name() + " "), r.out());
            }
        String generate = diffuse("generate", "--help").out();
        assertTrue(generate.contains("Euler a, ") && generate.contains("euler-a, ") && generate.contains("--batch N (1; image i has seed + i)") && generate.contains("-1: random"), generate);
    }

    @Test
    void serveRefusesAModelWithoutTextEncoder(@TempDir Path dir) throws Exception {
        String index = Files.readString(TINY.resolve("model_index.json")).replace("\"CLIPTextModel\"", "null").replace("\"transformers\",\n    null", "null,\n    null");
        Files.writeString(dir.resolve("model_index.json"), index);
        var r = diffuse("serve", "--model", dir.toString(), "--port", "0");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().lines().findFirst().orElse("").contains("has no text encoder"), r.err());
    }

    @Test
    void theEtaFollowsTheRecentSteps() {
        MovingEta eta = new MovingEta();
        for (int i = 0; i < 5; i++) assertEquals(10.0, eta.next(1.0, 10), 1e-12);
        assertEquals(1.4 * 10, eta.next(3.0, 10), 1e-12, "one slow step moves the mean by a fifth");
        for (int i = 0; i < 4; i++) eta.next(3.0, 10);
        assertEquals(30.0, eta.next(3.0, 10), 1e-12);
    }
}
