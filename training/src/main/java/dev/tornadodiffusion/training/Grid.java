package dev.tornadodiffusion.training;

import dev.tornadodiffusion.tensor.Tensor;

import java.util.List;

/** Images side by side: the sample sheets a training run writes. */
public final class Grid {
    private Grid() {}

    /** [H, W, 3] images of one size in rows of {@code columns}, 2-pixel grey gaps; returns one [H', W', 3] image. */
    public static Tensor of(List<Tensor> images, int columns) {
        int h = images.getFirst().dim(0), w = images.getFirst().dim(1), gap = 2;
        int rows = (images.size() + columns - 1) / columns;
        int gh = rows * h + (rows + 1) * gap, gw = columns * w + (columns + 1) * gap;
        float[] out = new float[gh * gw * 3];
        java.util.Arrays.fill(out, 0.5f);
        for (int i = 0; i < images.size(); i++) {
            float[] img = images.get(i).contiguousF32().array();
            int y0 = gap + (i / columns) * (h + gap), x0 = gap + (i % columns) * (w + gap);
            for (int y = 0; y < h; y++) System.arraycopy(img, y * w * 3, out, ((y0 + y) * gw + x0) * 3, w * 3);
        }
        return Tensor.of(out, gh, gw, 3);
    }

    /** A [3, H, W] tensor in [-1, 1] as an [H, W, 3] image in [0, 1]. */
    public static Tensor toImage(Tensor chw) {
        int h = chw.dim(1), w = chw.dim(2);
        float[] v = chw.contiguousF32().array(), out = new float[h * w * 3];
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < h * w; i++) out[i * 3 + c] = Math.min(1f, Math.max(0f, v[c * h * w + i] / 2 + 0.5f));
        return Tensor.of(out, h, w, 3);
    }
}
