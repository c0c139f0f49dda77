package dev.tornadodiffusion.tensor.cpu;

import dev.tornadodiffusion.tensor.Tensor;

import java.util.Arrays;

/** Convolution as im2col + the shared GEMM, per image and group; 1x1 stride-1 is a plain GEMM. */
final class Conv2d {
    private Conv2d() {}

    static Tensor forward(Tensor x, Tensor weight, Tensor bias, int stride, int padding, int groups) {
        if (x.rank() != 4 || weight.rank() != 4) throw new IllegalArgumentException("conv2d needs NCHW input and 4-D weight: " + x + ", " + weight);
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        int oc = weight.dim(0), icg = weight.dim(1), kh = weight.dim(2), kw = weight.dim(3);
        if (c % groups != 0 || oc % groups != 0 || icg != c / groups)
            throw new IllegalArgumentException("conv2d: input " + Arrays.toString(x.shape()) + " vs weight " + Arrays.toString(weight.shape()) + " groups " + groups);
        int oh = (h + 2 * padding - kh) / stride + 1, ow = (w + 2 * padding - kw) / stride + 1;
        int ocg = oc / groups, kk = icg * kh * kw, pix = oh * ow;
        Tensor out = Tensor.zeros(n, oc, oh, ow);
        float[] o = out.array();
        float[] in = x.contiguousF32().array();
        Tensor w2 = weight.reshape(oc, kk);
        boolean pointwise = kh == 1 && kw == 1 && stride == 1 && padding == 0;
        float[] cols = pointwise ? null : new float[kk * pix];
        for (int b = 0; b < n; b++) {
            for (int g = 0; g < groups; g++) {
                Tensor colT;
                int inBase = (b * c + g * icg) * h * w;
                if (pointwise) {
                    colT = Tensor.of(in, n * c * h * w).narrow(0, inBase, kk * pix).reshape(kk, pix);
                } else {
                    im2col(in, inBase, icg, h, w, kh, kw, stride, padding, oh, ow, cols);
                    colT = Tensor.of(cols, kk, pix);
                }
                Gemm.gemm(w2.narrow(0, g * ocg, ocg), colT, o, (b * oc + g * ocg) * pix, pix, false);
            }
        }
        if (bias != null) {
            float[] bv = bias.contiguousF32().array();
            Parallel.forRange(n * oc, (r0, r1) -> {
                for (int r = r0; r < r1; r++) {
                    float v = bv[r % oc];
                    for (int i = r * pix; i < (r + 1) * pix; i++) o[i] += v;
                }
            });
        }
        return out;
    }

    private static void im2col(float[] in, int base, int c, int h, int w, int kh, int kw, int stride, int pad, int oh, int ow, float[] cols) {
        Parallel.forRange(c * kh * kw, (r0, r1) -> {
            for (int row = r0; row < r1; row++) {
                int ci = row / (kh * kw), ky = row / kw % kh, kx = row % kw;
                int dst = row * oh * ow;
                for (int oy = 0; oy < oh; oy++) {
                    int iy = oy * stride - pad + ky;
                    for (int ox = 0; ox < ow; ox++) {
                        int ix = ox * stride - pad + kx;
                        cols[dst++] = iy >= 0 && iy < h && ix >= 0 && ix < w ? in[base + (ci * h + iy) * w + ix] : 0f;
                    }
                }
            }
        });
    }
}
