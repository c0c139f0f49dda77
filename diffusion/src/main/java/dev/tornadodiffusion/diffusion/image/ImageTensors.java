package dev.tornadodiffusion.diffusion.image;

import dev.tornadodiffusion.tensor.Tensor;

/** Images as the pipelines hand them in and out: [H, W, 3] / [B, H, W, 3] in [0, 1], and the VAE's [B, 3, H, W] in [-1, 1]. */
public final class ImageTensors {
    private ImageTensors() {}

    /** diffusers' image post-processing for output_type "np": (x / 2 + 0.5).clamp(0, 1), NCHW -> NHWC. */
    public static Tensor fromDecoded(Tensor decoded) {
        int b = decoded.dim(0), c = decoded.dim(1), h = decoded.dim(2), w = decoded.dim(3);
        float[] src = decoded.contiguousF32().array();
        float[] out = new float[b * h * w * c];
        for (int n = 0; n < b; n++)
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++) {
                        float v = src[((n * c + ch) * h + y) * w + x] / 2 + 0.5f;
                        out[((n * h + y) * w + x) * c + ch] = Math.min(1f, Math.max(0f, v));
                    }
        return Tensor.of(out, b, h, w, c);
    }

    /** An [H, W, 3] image in [0, 1] as a [1, 3, height, width] tensor in [-1, 1], resized (bilinear) if needed. */
    public static Tensor toVaeInput(Tensor image, int width, int height) {
        int h = image.dim(0), w = image.dim(1);
        float[] src = image.contiguousF32().array();
        float[] out = new float[3 * height * width];
        for (int y = 0; y < height; y++) {
            float sy = Math.max(0, (y + 0.5f) * h / height - 0.5f);
            int y0 = Math.min((int) sy, h - 1), y1 = Math.min(y0 + 1, h - 1);
            float fy = sy - y0;
            for (int x = 0; x < width; x++) {
                float sx = Math.max(0, (x + 0.5f) * w / width - 0.5f);
                int x0 = Math.min((int) sx, w - 1), x1 = Math.min(x0 + 1, w - 1);
                float fx = sx - x0;
                for (int ch = 0; ch < 3; ch++) {
                    float top = src[(y0 * w + x0) * 3 + ch] * (1 - fx) + src[(y0 * w + x1) * 3 + ch] * fx;
                    float bot = src[(y1 * w + x0) * 3 + ch] * (1 - fx) + src[(y1 * w + x1) * 3 + ch] * fx;
                    out[(ch * height + y) * width + x] = 2 * (top * (1 - fy) + bot * fy) - 1;
                }
            }
        }
        return Tensor.of(out, 1, 3, height, width);
    }
}
