package dev.tornadodiffusion.nn.vae;

import dev.tornadodiffusion.nn.Fixtures;
import dev.tornadodiffusion.weights.JsonConfig;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Safetensors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Tiled encode / decode on the vae-sd fixture model (sample_size 32, 2 levels) with 16-pixel tiles: 8-latent tiles
 * every 6 latents blended over 4 pixels (decode), 16-pixel tiles every 12 pixels blended over 2 latents (encode).
 * The result is checked against a plain re-implementation of diffusers' loop over separately decoded tiles.
 */
class TiledVaeTest {
    static final Backend BE = Backends.cpu();
    static Safetensors weights;
    static AutoencoderKL vae;

    @BeforeAll
    static void load() throws Exception {
        Path dir = Fixtures.path("vae-sd");
        weights = Safetensors.open(dir.resolve("diffusion_pytorch_model.safetensors"));
        vae = new AutoencoderKL(AutoencoderKLConfig.from(JsonConfig.read(dir.resolve("config.json"))), new Params(weights, BE));
    }

    @AfterAll
    static void close() { weights.close(); }

    static Tensor random(long seed, int... shape) {
        Random r = new Random(seed);
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        return Tensor.of(v, shape);
    }

    @Test
    void tiledDecodeIsTheBlendOfSeparatelyDecodedTiles() {
        Tensor z = random(1, 1, 4, 17, 23);   // 3 x 4 tiles, the last row / column partial
        vae.enableTiling(16);
        Tensor tiled = vae.decode(z);
        Tensor again = vae.decode(z);
        vae.disableTiling();
        Tensor untiled = vae.decode(z);

        assertArrayEquals(untiled.shape(), tiled.shape());
        assertArrayEquals(tiled.toFloatArray(), again.toFloatArray(), 0f, "tiled decode is deterministic");
        float[] expected = referenceTiling(z, 8, 6, 4, 12, 2, t -> vae.decode(t));
        // tiles of other shapes take other GEMM blockings: equal up to float rounding, while a wrong blend is off by ~1e-1
        assertArrayEquals(expected, tiled.toFloatArray(), 1e-5f);

        // The first tile's interior (rows / columns 0..11) is that tile decoded alone: no blending there.
        Tensor first = vae.decode(z.narrow(2, 0, 8).narrow(3, 0, 8));
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 12; y++)
                for (int x = 0; x < 12; x++) assertEquals(first.get(0, c, y, x), tiled.get(0, c, y, x), 1e-5f);
        // Tiles see only their own latents, so the seams differ from the untiled decode (diffusers' behaviour).
        assertTrue(maxAbsDiff(tiled, untiled) > 1e-3);
    }

    @Test
    void tiledEncodeIsTheBlendOfSeparatelyEncodedTiles() {
        Tensor img = random(2, 1, 3, 30, 40);
        vae.enableTiling(16);
        DiagonalGaussianDistribution tiled = vae.encode(img);
        vae.disableTiling();
        int lc = vae.config.latent_channels();
        float[] moments = referenceTiling(img, 16, 12, 2, 6, 1, t -> {
            DiagonalGaussianDistribution d = vae.encode(t);
            return BE.concat(1, d.mean, d.logvar);   // logvar is clamped, a no-op on these values
        });
        assertEquals(vae.encode(img).mean.dim(2), tiled.mean.dim(2));
        Tensor m = Tensor.of(moments, 1, 2 * lc, tiled.mean.dim(2), tiled.mean.dim(3));
        assertArrayEquals(m.narrow(1, 0, lc).toFloatArray(), tiled.mean.toFloatArray(), 1e-5f);
        assertArrayEquals(m.narrow(1, lc, lc).toFloatArray(), tiled.logvar.toFloatArray(), 1e-5f);
    }

    @Test
    void smallInputsAreNotTiled() {
        Tensor z = random(3, 2, 4, 8, 8);
        vae.enableTiling(16);
        Tensor a = vae.decode(z);
        vae.disableTiling();
        assertArrayEquals(vae.decode(z).toFloatArray(), a.toFloatArray(), 0f);
    }

    @Test
    void slicingGivesTheBatchedResult() {
        Tensor z = random(4, 2, 4, 6, 5);
        Tensor batched = vae.decode(z);
        vae.enableSlicing(true);
        Tensor sliced = vae.decode(z);
        vae.enableSlicing(false);
        // one image at a time takes another GEMM blocking than the batch: equal to float rounding
        assertArrayEquals(batched.toFloatArray(), sliced.toFloatArray(), 1e-5f);
    }

    @Test
    void badTileSizeIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> vae.enableTiling(15));
        assertThrows(IllegalArgumentException.class, () -> vae.enableTiling(2));
    }

    interface Coder { Tensor apply(Tensor t); }

    /**
     * diffusers' tiled loop with plain arrays, batch 1: tiles of {@code tile} inputs every {@code overlap}, in-place
     * blend_v / blend_h over {@code blend} outputs, crop to {@code limit}; outputs are {@code scale} times the inputs.
     */
    static float[] referenceTiling(Tensor x, int tile, int overlap, int blend, int limit, int scale, Coder f) {
        int h = x.dim(2), w = x.dim(3);
        int rows = (h + overlap - 1) / overlap, cols = (w + overlap - 1) / overlap;
        Tensor[][] t = new Tensor[rows][cols];
        float[][][][] d = new float[rows][cols][][];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) {
                int y0 = i * overlap, x0 = j * overlap;
                t[i][j] = f.apply(x.narrow(2, y0, Math.min(tile, h - y0)).narrow(3, x0, Math.min(tile, w - x0)));
                d[i][j] = new float[][]{t[i][j].toFloatArray()};
            }
        int c = t[0][0].dim(1);
        int outH = 0, outW = 0;
        for (int i = 0; i < rows; i++) outH += Math.min(limit, t[i][0].dim(2));
        for (int j = 0; j < cols; j++) outW += Math.min(limit, t[0][j].dim(3));
        float[] out = new float[c * outH * outW];
        int oy = 0;
        for (int i = 0; i < rows; i++) {
            int ox = 0;
            for (int j = 0; j < cols; j++) {
                float[] b = d[i][j][0];
                int bh = t[i][j].dim(2), bw = t[i][j].dim(3);
                if (i > 0) {
                    float[] a = d[i - 1][j][0];
                    int ah = t[i - 1][j].dim(2), e = Math.min(Math.min(ah, bh), blend);
                    for (int ch = 0; ch < c; ch++)
                        for (int y = 0; y < e; y++)
                            for (int xx = 0; xx < bw; xx++)
                                b[(ch * bh + y) * bw + xx] = a[(ch * ah + ah - e + y) * bw + xx] * (float) (1 - (double) y / e)
                                        + b[(ch * bh + y) * bw + xx] * (float) ((double) y / e);
                }
                if (j > 0) {
                    float[] a = d[i][j - 1][0];
                    int aw = t[i][j - 1].dim(3), e = Math.min(Math.min(aw, bw), blend);
                    for (int ch = 0; ch < c; ch++)
                        for (int y = 0; y < bh; y++)
                            for (int xx = 0; xx < e; xx++)
                                b[(ch * bh + y) * bw + xx] = a[(ch * bh + y) * aw + aw - e + xx] * (float) (1 - (double) xx / e)
                                        + b[(ch * bh + y) * bw + xx] * (float) ((double) xx / e);
                }
                int ch2 = Math.min(limit, bh), cw = Math.min(limit, bw);
                for (int ch = 0; ch < c; ch++)
                    for (int y = 0; y < ch2; y++)
                        System.arraycopy(b, (ch * bh + y) * bw, out, (ch * outH + oy + y) * outW + ox, cw);
                ox += cw;
            }
            oy += Math.min(limit, t[i][0].dim(2));
        }
        return out;
    }

    static double maxAbsDiff(Tensor a, Tensor b) {
        float[] x = a.toFloatArray(), y = b.toFloatArray();
        double m = 0;
        for (int i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
        return m;
    }
}
