package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.diffusion.image.ImageTensors;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** The one init-image size rule ({@link ImageSize#initImage}), the same in every image-to-image pipeline. */
class ImageToImageSizeTest {

    @Test
    void sdAndSdxlRenderTheSameInitImageAtTheSameSize(@TempDir Path dir) throws IOException {
        Tensor image = StableDiffusionXLPipelineTest.randomImage(5, 24, 40);   // a multiple of either VAE's factor
        GenerationRequest r = GenerationRequest.builder("a red fox").initImage(image).strength(0.5f).steps(2).seed(1).build();
        try (Pipeline sd = Pipeline.load(TinyFolders.sd(dir.resolve("sd"), true), Backends.cpu(), LoadOptions.DEFAULT);
             Pipeline sdxl = Pipeline.load(TinyFolders.sdxl(dir.resolve("sdxl"), "StableDiffusionXLPipeline", "scheduler", true, ""), Backends.cpu(), LoadOptions.DEFAULT)) {
            assertArrayEquals(new int[]{1, 24, 40, 3}, sd.generate(r, Progress.NONE).images().shape(), "SD renders at the init image's size");
            assertArrayEquals(new int[]{1, 24, 40, 3}, sdxl.generate(r, Progress.NONE).images().shape(), "SDXL renders at the init image's size");
            Tensor resized = sd.generate(r.toBuilder().width(16).height(32).build(), Progress.NONE).images();
            assertArrayEquals(new int[]{1, 32, 16, 3}, resized.shape(), "a requested size wins, the image is resized to it");
        }
    }

    @Test
    void theImageSizeIsRoundedDownToTheMultipleAndSaid() {
        ImageSize s = ImageSize.initImage(301, 203, null, null, 8);
        assertEquals(296, s.width());
        assertEquals(200, s.height());
        assertEquals("init image 301x203 -> 296x200 (its size rounded down to a multiple of 8)", s.rule());
        assertEquals("init image 64x64 -> 64x64 (its own size)", ImageSize.initImage(64, 64, null, null, 8).rule());
        ImageSize asked = ImageSize.initImage(301, 203, 512, null, 8);
        assertEquals(512, asked.width());
        assertEquals(200, asked.height(), "a side not requested follows the image");
        assertEquals(8, ImageSize.initImage(5, 5, null, null, 8).width(), "at least one multiple");
    }

    @Test
    void aPhotoAboveThePixelLimitIsRefusedBeforeAnyWork(@TempDir Path dir) throws IOException {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ImageSize.initImage(3000, 2000, null, null, 8));
        assertEquals("init image 3000x2000 -> 3000x2000 (its own size): 3000x2000 is above the pipelines' limit of 4194304 pixels (2048x2048): pass a smaller --width/--height",
                e.getMessage());
        Tensor photo = Tensor.zeros(2000, 3000, 3);
        try (Pipeline sd = Pipeline.load(TinyFolders.sd(dir, true), Backends.cpu(), LoadOptions.DEFAULT)) {
            GenerationRequest r = GenerationRequest.builder("a red fox").initImage(photo).steps(2).build();
            Progress stages = new Progress() {
                @Override public void stage(String name) { fail("work started: " + name); }
            };
            assertThrows(IllegalArgumentException.class, () -> sd.generate(r, stages));
            assertArrayEquals(new int[]{1, 24, 40, 3}, sd.generate(r.toBuilder().width(40).height(24).build(), Progress.NONE).images().shape(),
                    "with a size it is resized");
        }
    }

    @Test
    void lanczosKeepsAConstantImageAndTheSizeItIsAskedFor() {
        Tensor grey = Tensor.of(new float[]{0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f}, 2, 2, 3);
        Tensor up = ImageTensors.resize(grey, 5, 3);
        assertArrayEquals(new int[]{3, 5, 3}, up.shape());
        for (float v : up.contiguousF32().array()) assertEquals(0.25f, v, 1e-6f);
        // a step edge: PIL's Lanczos rings (over- and undershoots) next to it, clamped to [0, 1]
        float[] edge = new float[8 * 3];
        for (int x = 4; x < 8; x++) for (int c = 0; c < 3; c++) edge[x * 3 + c] = 1f;
        float[] row = ImageTensors.resize(Tensor.of(edge, 1, 8, 3), 16, 1).contiguousF32().array();
        assertEquals(0f, row[0], 1e-6f);
        assertEquals(1f, row[15 * 3], 1e-6f);
        assertTrue(row[7 * 3] > 0.2f && row[7 * 3] < 0.8f, "the edge falls between: " + row[7 * 3]);
    }
}
