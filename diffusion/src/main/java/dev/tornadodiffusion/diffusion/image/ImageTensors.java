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

    /**
     * An [H, W, 3] image in [0, 1] as a [1, 3, height, width] tensor in [-1, 1], resized first if its size differs
     * ({@link #resize}, as diffusers' image processor resizes with PIL's Lanczos).
     */
    public static Tensor toVaeInput(Tensor image, int width, int height) {
        Tensor sized = image.dim(0) == height && image.dim(1) == width ? image : resize(image, width, height);
        int h = sized.dim(0), w = sized.dim(1);
        float[] src = sized.contiguousF32().array();
        float[] out = new float[3 * h * w];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int ch = 0; ch < 3; ch++) out[(ch * h + y) * w + x] = 2 * src[(y * w + x) * 3 + ch] - 1;
        return Tensor.of(out, 1, 3, h, w);
    }

    /**
     * PIL's {@code Image.resize(size, Image.LANCZOS)} on an [H, W, 3] image in [0, 1], in float: separable Lanczos-3,
     * horizontal pass first, the kernel widened by the scale when shrinking (antialiasing); clamped to [0, 1].
     */
    public static Tensor resize(Tensor image, int width, int height) {
        int h = image.dim(0), w = image.dim(1);
        float[] src = image.contiguousF32().array();
        float[] rows = new float[h * width * 3];
        Kernel kx = Kernel.lanczos(w, width);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < width; x++)
                for (int ch = 0; ch < 3; ch++) {
                    double v = 0;
                    for (int k = 0; k < kx.size[x]; k++) v += kx.weights[x][k] * src[(y * w + kx.start[x] + k) * 3 + ch];
                    rows[(y * width + x) * 3 + ch] = (float) v;
                }
        float[] out = new float[height * width * 3];
        Kernel ky = Kernel.lanczos(h, height);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                for (int ch = 0; ch < 3; ch++) {
                    double v = 0;
                    for (int k = 0; k < ky.size[y]; k++) v += ky.weights[y][k] * rows[((ky.start[y] + k) * width + x) * 3 + ch];
                    out[(y * width + x) * 3 + ch] = (float) Math.min(1, Math.max(0, v));
                }
        return Tensor.of(out, height, width, 3);
    }

    /** PIL's {@code precompute_coeffs}: for each output pixel, the first input pixel it reads and its normalised weights. */
    private record Kernel(int[] start, int[] size, double[][] weights) {
        static Kernel lanczos(int in, int out) {
            double scale = (double) in / out, filterScale = Math.max(scale, 1), support = 3 * filterScale;
            int[] start = new int[out], size = new int[out];
            double[][] weights = new double[out][];
            for (int i = 0; i < out; i++) {
                double center = (i + 0.5) * scale;
                int min = Math.max((int) (center - support + 0.5), 0), max = Math.min((int) (center + support + 0.5), in);
                double[] k = new double[max - min];
                double sum = 0;
                for (int x = min; x < max; x++) sum += k[x - min] = lanczos3((x - center + 0.5) / filterScale);
                for (int x = 0; x < k.length; x++) k[x] = sum == 0 ? 0 : k[x] / sum;
                start[i] = min;
                size[i] = k.length;
                weights[i] = k;
            }
            return new Kernel(start, size, weights);
        }

        private static double lanczos3(double x) {
            return x > -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0;
        }

        private static double sinc(double x) {
            return x == 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
        }
    }
}
