package dev.tornadodiffusion.tensor.cpu;

import dev.tornadodiffusion.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

import java.util.Arrays;

import static dev.tornadodiffusion.tensor.cpu.Gemm.S;
import static dev.tornadodiffusion.tensor.cpu.Gemm.V;

/**
 * Convolution as an implicit GEMM: weights [OC, IC*KH*KW] times the {@link Im2col} view of the input,
 * per group. Depthwise convolutions (one input channel per group) take a direct vectorized path.
 */
final class Conv2d {
    private Conv2d() {}

    /** Below this many output pixels, all images go through one GEMM so the weights are packed once. */
    private static final int BATCHED_PIXELS = 1024;

    static Tensor forward(Tensor x, Tensor weight, Tensor bias, int stride, int padding, int groups) {
        if (x.rank() != 4 || weight.rank() != 4) throw new IllegalArgumentException("conv2d needs NCHW input and 4-D weight: " + x + ", " + weight);
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        int oc = weight.dim(0), icg = weight.dim(1), kh = weight.dim(2), kw = weight.dim(3);
        if (groups < 1 || c % groups != 0 || oc % groups != 0 || icg != c / groups)
            throw new IllegalArgumentException("conv2d: input " + Arrays.toString(x.shape()) + " vs weight " + Arrays.toString(weight.shape()) + " groups " + groups);
        if (stride < 1 || padding < 0) throw new IllegalArgumentException("conv2d: stride " + stride + ", padding " + padding);
        int oh = (h + 2 * padding - kh) / stride + 1, ow = (w + 2 * padding - kw) / stride + 1;
        if (oh < 1 || ow < 1) throw new IllegalArgumentException("conv2d: kernel " + kh + "x" + kw + " larger than padded input " + h + "x" + w);
        if (bias != null && bias.numel() != oc) throw new IllegalArgumentException("conv2d: bias " + Arrays.toString(bias.shape()) + " for " + oc + " channels");
        float[] in = x.contiguousF32().array();
        float[] bv = bias == null ? null : bias.contiguousF32().array();
        Tensor out = Tensor.zeros(n, oc, oh, ow);
        if (icg == 1 && oc == c) {
            depthwise(in, n, c, h, w, weight.reshape(c, kh * kw).contiguousF32().array(), kh, kw, stride, padding, bv, out.array(), oh, ow);
            return out;
        }
        int ocg = oc / groups, depth = icg * kh * kw, pix = oh * ow;
        Tensor w2 = weight.reshape(oc, depth);
        float[] o = out.array();
        if (n == 1 || pix >= BATCHED_PIXELS) {
            if (bv != null) for (int r = 0; r < n * oc; r++) Arrays.fill(o, r * pix, (r + 1) * pix, bv[r % oc]);
            for (int g = 0; g < groups; g++) {
                Im2col cols = new Im2col(in, c, h, w, g * icg, kh, kw, stride, padding);
                Gemm.Operand weights = Gemm.Operand.rows(w2.narrow(0, g * ocg, ocg));
                for (int b = 0; b < n; b++) {
                    int lane0 = b * pix;
                    Gemm.Operand image = (l0, lanes, d0, d, dst, off, width) -> cols.pack(lane0 + l0, lanes, d0, d, dst, off, width);
                    Gemm.gemm(ocg, pix, depth, weights, image, o, (b * oc + g * ocg) * pix, pix, bv != null);
                }
            }
        } else {
            // Small images: one GEMM over the pixels of all images into [OC, N*pix], then scattered to [N, OC, pix].
            int lanes = n * pix;
            float[] tmp = new float[oc * lanes];
            if (bv != null) for (int ch = 0; ch < oc; ch++) Arrays.fill(tmp, ch * lanes, (ch + 1) * lanes, bv[ch]);
            for (int g = 0; g < groups; g++)
                Gemm.gemm(ocg, lanes, depth, Gemm.Operand.rows(w2.narrow(0, g * ocg, ocg)), new Im2col(in, c, h, w, g * icg, kh, kw, stride, padding),
                        tmp, g * ocg * lanes, lanes, bv != null);
            for (int b = 0; b < n; b++)
                for (int ch = 0; ch < oc; ch++) System.arraycopy(tmp, ch * lanes + b * pix, o, (b * oc + ch) * pix, pix);
        }
        return out;
    }

    /**
     * One kernel per channel: each plane is copied once with its zero border, then every output vector
     * sums its kh*kw taps in a register (stride 1; other strides element by element).
     */
    private static void depthwise(float[] in, int n, int c, int h, int w, float[] wt, int kh, int kw, int stride, int pad,
                                  float[] bias, float[] o, int oh, int ow) {
        int ph = h + 2 * pad, pw = w + 2 * pad;
        Parallel.forRange(n * c, (p0, p1) -> {
            float[] padded = new float[ph * pw];
            for (int plane = p0; plane < p1; plane++) {
                int ch = plane % c, src = plane * h * w, dst = plane * oh * ow, wo = ch * kh * kw;
                for (int y = 0; y < h; y++) System.arraycopy(in, src + y * w, padded, (y + pad) * pw + pad, w);
                float b = bias == null ? 0f : bias[ch];
                for (int oy = 0; oy < oh; oy++) {
                    int orow = dst + oy * ow, irow = oy * stride * pw;
                    if (stride == 1) {
                        int ox = 0;
                        for (; ox <= ow - V; ox += V) {
                            FloatVector acc = FloatVector.broadcast(S, b);
                            for (int ky = 0; ky < kh; ky++)
                                for (int kx = 0; kx < kw; kx++)
                                    acc = FloatVector.fromArray(S, padded, irow + ky * pw + ox + kx).fma(FloatVector.broadcast(S, wt[wo + ky * kw + kx]), acc);
                            acc.intoArray(o, orow + ox);
                        }
                        if (ox < ow) {
                            VectorMask<Float> m = S.indexInRange(ox, ow);
                            FloatVector acc = FloatVector.broadcast(S, b);
                            for (int ky = 0; ky < kh; ky++)
                                for (int kx = 0; kx < kw; kx++)
                                    acc = FloatVector.fromArray(S, padded, irow + ky * pw + ox + kx, m).fma(FloatVector.broadcast(S, wt[wo + ky * kw + kx]), acc);
                            acc.intoArray(o, orow + ox, m);
                        }
                    } else {
                        for (int ox = 0; ox < ow; ox++) {
                            float acc = b;
                            for (int ky = 0; ky < kh; ky++)
                                for (int kx = 0; kx < kw; kx++) acc = Math.fma(padded[irow + ky * pw + ox * stride + kx], wt[wo + ky * kw + kx], acc);
                            o[orow + ox] = acc;
                        }
                    }
                }
            }
        });
    }
}
