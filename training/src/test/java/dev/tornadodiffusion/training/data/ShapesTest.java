package dev.tornadodiffusion.training.data;

import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.training.eval.PromptFollowing;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class ShapesTest {

    /** A [3, H, W] tensor in [-1, 1] as the [H, W, 3] image in [0, 1] the pipelines return. */
    static Tensor hwc(Tensor chw) {
        int h = chw.dim(1), w = chw.dim(2);
        float[] v = chw.contiguousF32().array(), out = new float[h * w * 3];
        for (int c = 0; c < 3; c++) for (int i = 0; i < h * w; i++) out[i * 3 + c] = v[c * h * w + i] / 2 + 0.5f;
        return Tensor.of(out, h, w, 3);
    }

    @Test
    void sameSeedSameExamples() {
        ShapesDataset a = new ShapesDataset(7, 1000, 64, false), b = new ShapesDataset(7, 1000, 64, false);
        for (int i : new int[]{0, 1, 999}) {
            assertEquals(a.get(i).caption(), b.get(i).caption());
            assertArrayEquals(a.get(i).image().toFloatArray(), b.get(i).image().toFloatArray());
        }
        assertNotEquals(a.get(0).caption() + a.get(1).caption(), new ShapesDataset(8, 1000, 64, false).get(0).caption() + new ShapesDataset(8, 1000, 64, false).get(1).caption());
    }

    @Test
    void captionsFollowTheGrammarAndTheSplit() {
        ShapesDataset train = new ShapesDataset(1, 500, 64, false);
        for (int i = 0; i < 500; i++) {
            Shapes.Scene s = train.scene(i);
            assertFalse(Shapes.heldOut(s));
            assertEquals(s.caption(), Shapes.Scene.parse(s.caption()).caption());
        }
        for (Shapes.Scene s : Shapes.heldOutScenes(50, 3)) assertTrue(Shapes.heldOut(s));
        assertEquals("a large yellow star at the top right on a purple background",
                Shapes.Scene.parse("a large yellow star at the top right on a purple background").caption());
        assertEquals("a red circle on a blue background", Shapes.Scene.parse("a red circle on a blue background").caption());
        assertThrows(IllegalArgumentException.class, () -> Shapes.Scene.parse("a red circle on a red background"));
        assertThrows(IllegalArgumentException.class, () -> Shapes.Scene.parse("a lighthouse at dusk"));
    }

    @Test
    void renderedScenesPassTheCheckAndOthersFail() {
        ShapesDataset ds = new ShapesDataset(5, 400, 64, false);
        int wrong = 0;
        for (int i = 0; i < 400; i++) {
            CaptionedImages.Example e = ds.get(i);
            Shapes.Scene s = ds.scene(i);
            Tensor img = hwc(e.image());
            assertTrue(PromptFollowing.follows(s, img), e.caption());
            // the same picture against a caption that moves the (first) item or changes the background
            Shapes.Scene moved = Shapes.Scene.parse(e.caption().replace("red", "TMP").replace("green", "red").replace("TMP", "green"));
            if (!moved.caption().equals(s.caption()) && !PromptFollowing.follows(moved, img)) wrong++;
        }
        assertTrue(wrong > 100, "swapped colours should fail the check: " + wrong);
        Shapes.Scene one = Shapes.Scene.parse("a large yellow star at the top right on a purple background");
        Tensor img = hwc(CaptionedImages.toTensor(one.render(64, new java.util.SplittableRandom(1))));
        assertTrue(PromptFollowing.follows(one, img));
        assertFalse(PromptFollowing.follows(Shapes.Scene.parse("a large yellow star at the top left on a purple background"), img));
        assertFalse(PromptFollowing.follows(Shapes.Scene.parse("a large yellow star at the top right on a blue background"), img));
        assertFalse(PromptFollowing.follows(Shapes.Scene.parse("a large orange star at the top right on a purple background"), img));
    }

    @Test
    void imageFolderNeedsCaptions(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        Shapes.Scene s = Shapes.Scene.parse("a small blue ring on the left on a white background");
        javax.imageio.ImageIO.write(s.render(80, new java.util.SplittableRandom(2)), "png", dir.resolve("a.png").toFile());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ImageFolder.open(dir, 64));
        assertTrue(e.getMessage().contains("no caption file"), e.getMessage());
        java.nio.file.Files.writeString(dir.resolve("a.txt"), s.caption() + "\n");
        ImageFolder f = ImageFolder.open(dir, 64);
        assertEquals(1, f.size());
        assertEquals(s.caption(), f.get(0).caption());
        assertArrayEquals(new int[]{3, 64, 64}, f.get(0).image().shape());
        assertTrue(PromptFollowing.follows(s, hwc(f.get(0).image())));
        assertThrows(IllegalArgumentException.class, () -> ImageFolder.open(dir.resolve("missing"), 64));
    }
}
