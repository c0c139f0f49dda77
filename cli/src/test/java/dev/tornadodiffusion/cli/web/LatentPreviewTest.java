package dev.tornadodiffusion.cli.web;

import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The latent-to-RGB approximation: rgb = latents . factors mapped from [-1, 1] to [0, 1]; other latent spaces stretched. */
class LatentPreviewTest {
    static final float[][] FACTORS = {{0.5f, 0, 0}, {0, 0.5f, 0}, {0, 0, 0.5f}, {0.25f, 0.25f, 0.25f}};

    @Test
    void fourChannelLatentsUseTheFactorMatrix() {
        // one pixel (h = w = 1) with channels (1, -1, 0, 2): r = 0.5 + 0.5, g = -0.5 + 0.5, b = 0 + 0.5
        Tensor rgb = LatentPreview.approximation(FACTORS).decode(Tensor.of(new float[]{1, -1, 0, 2}, 4, 1, 1));
        assertEquals(1.0f, rgb.get(0, 0, 0), 1e-6);
        assertEquals(0.5f, rgb.get(0, 0, 1), 1e-6);
        assertEquals(0.75f, rgb.get(0, 0, 2), 1e-6);
    }

    @Test
    void otherLatentSpacesShowTheirFirstChannelsStretched() {
        // 16 channels, 1 x 2 pixels: channel k holds (k, 2k); each shown channel spans [0, 1]
        float[] x = new float[16 * 2];
        for (int k = 0; k < 16; k++) { x[2 * k] = k; x[2 * k + 1] = 2 * k + 1; }
        Tensor rgb = LatentPreview.approximation(FACTORS).decode(Tensor.of(x, 16, 1, 2));
        for (int c = 0; c < 3; c++) {
            assertEquals(0f, rgb.get(0, 0, c), 1e-6);
            assertEquals(1f, rgb.get(0, 1, c), 1e-6);
        }
    }

    @Test
    void thePngIsTheFirstImageAtLatentSize() throws Exception {
        byte[] png = new LatentPreview(LatentPreview.approximation(FACTORS)).png(Tensor.zeros(2, 4, 3, 5));
        var img = TinyServer.png(png);
        assertEquals(5, img.getWidth());
        assertEquals(3, img.getHeight());
        assertEquals(0x808080, img.getRGB(0, 0) & 0xffffff, "zero latents are mid grey");
    }
}
