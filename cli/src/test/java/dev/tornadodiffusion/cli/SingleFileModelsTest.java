package dev.tornadodiffusion.cli;

import dev.tornadodiffusion.diffusion.image.Png;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static dev.tornadodiffusion.cli.GenerateChecksTest.pixels;
import static dev.tornadodiffusion.cli.GenerateCommandTest.TINY;
import static dev.tornadodiffusion.cli.GenerateCommandTest.diffuse;
import static org.junit.jupiter.api.Assertions.*;

/** {@code generate --model FILE.safetensors}: the single file read as convert reads it, once, then its cached folder. */
class SingleFileModelsTest {

    @Test
    void aSingleFileCheckpointMakesTheImageOfItsFolder(@TempDir Path dir) throws Exception {
        System.setProperty("td.cache", dir.resolve("cache").toString());
        try {
            Path file = dir.resolve("tiny.safetensors");
            assertEquals(0, diffuse("convert", TINY.toString(), file.toString()).code());
            Path fromFolder = dir.resolve("folder.png"), fromFile = dir.resolve("file.png"), again = dir.resolve("again.png");
            String[] common = {"generate", "--prompt", "a red square", "--steps", "2", "--seed", "3", "--width", "16", "--height", "16"};
            assertEquals(0, diffuse(with(common, "--model", TINY.toString(), "--out", fromFolder.toString())).code());

            // the bundled model's configs are its own, not SD 1.x's: taken from its folder, as convert --config does
            var r = diffuse(with(common, "--model", file.toString(), "--model-config", TINY.toString(), "--out", fromFile.toString()));
            assertEquals(0, r.code(), r.err());
            assertTrue(r.err().contains("converting " + file), r.err());
            assertArrayEquals(pixels(fromFolder), pixels(fromFile), "the same weights, configs and tokenizer: the same image");
            assertTrue(Png.readText(fromFile).get("parameters").contains("Seed: 3,"));

            r = diffuse(with(common, "--model", file.toString(), "--model-config", TINY.toString(), "--out", again.toString()));
            assertEquals(0, r.code(), r.err());
            assertFalse(r.err().contains("converting"), "converted once: " + r.err());
            assertArrayEquals(pixels(fromFolder), pixels(again));

            // configs derived from the keys and SD 1.x's defaults do not fit this tiny model: one line, no trace
            r = diffuse(with(common, "--model", file.toString(), "--out", dir.resolve("x.png").toString()));
            assertEquals(1, r.code(), r.err());
            assertTrue(r.err().lines().anyMatch(l -> l.startsWith("diffuse generate: ") && l.contains("norm_num_groups")), r.err());
            assertFalse(r.err().contains("\tat "), r.err());
        } finally {
            System.clearProperty("td.cache");
        }
        for (String[] bad : new String[][]{{"--model", dir.resolve("model.bin").toString()}, {"--model", TINY.toString(), "--model-config", TINY.toString()}}) {
            var r = diffuse(with(new String[]{"generate", "--prompt", "x"}, bad));
            assertEquals(2, r.code(), r.err());
        }
    }

    private static String[] with(String[] a, String... b) {
        String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }
}
