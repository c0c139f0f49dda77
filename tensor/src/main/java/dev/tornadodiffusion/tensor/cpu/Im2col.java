package dev.tornadodiffusion.tensor.cpu;

import java.util.Arrays;

/**
 * The B operand of a convolution as an implicit im2col matrix: depth index {@code (ci, ky, kx)} of the
 * kernel, lane index {@code (image, oy, ox)} of the output. Packing reads the input image directly, so
 * no [C*KH*KW, OH*OW] matrix is ever built (it would be 1.2 GB for a 128-channel 1024x1024 VAE layer).
 */
final class Im2col implements Gemm.Operand {
    private final float[] in;
    private final int channels, h, w, channel0, kh, kw, stride, pad, oh, ow, pix;
    /** 1x1, stride 1, no padding: a lane run is a run of input pixels, not limited to one row. */
    private final boolean pointwise;

    /** Input {@code in} [N, channels, h, w]; this operand reads channels {@code channel0..} of a kh x kw kernel. */
    Im2col(float[] in, int channels, int h, int w, int channel0, int kh, int kw, int stride, int pad) {
        this.in = in;
        this.channels = channels;
        this.h = h;
        this.w = w;
        this.channel0 = channel0;
        this.kh = kh;
        this.kw = kw;
        this.stride = stride;
        this.pad = pad;
        this.oh = (h + 2 * pad - kh) / stride + 1;
        this.ow = (w + 2 * pad - kw) / stride + 1;
        this.pix = oh * ow;
        this.pointwise = kh == 1 && kw == 1 && stride == 1 && pad == 0;
    }

    @Override
    public void pack(int lane0, int lanes, int depth0, int depth, float[] dst, int off, int width) {
        int taps = kh * kw, end = lane0 + lanes;
        for (int p = 0; p < depth; p++) {
            int k = depth0 + p, ci = channel0 + k / taps, ky = k % taps / kw, kx = k % kw;
            int d = off + p * width - lane0;
            for (int lane = lane0; lane < end; ) {
                int img = lane / pix, q = lane % pix;
                int plane = (img * channels + ci) * h * w;
                if (pointwise) {
                    int run = Math.min(end - lane, pix - q);
                    System.arraycopy(in, plane + q, dst, d + lane, run);
                    lane += run;
                    continue;
                }
                int oy = q / ow, ox = q % ow, run = Math.min(end - lane, ow - ox);
                int iy = oy * stride - pad + ky, o = d + lane;
                if (iy < 0 || iy >= h) {
                    Arrays.fill(dst, o, o + run, 0f);
                } else {
                    int row = plane + iy * w, ix0 = ox * stride - pad + kx;
                    if (stride == 1) {
                        // ix = ix0 + t is inside the row for t in [lo, hi).
                        int lo = Math.min(run, Math.max(0, -ix0)), hi = Math.max(lo, Math.min(run, w - ix0));
                        Arrays.fill(dst, o, o + lo, 0f);
                        for (int t = lo; t < hi; t++) dst[o + t] = in[row + ix0 + t];
                        Arrays.fill(dst, o + hi, o + run, 0f);
                    } else {
                        for (int t = 0, ix = ix0; t < run; t++, ix += stride) dst[o + t] = ix >= 0 && ix < w ? in[row + ix] : 0f;
                    }
                }
                lane += run;
            }
            Arrays.fill(dst, d + end, d + lane0 + width, 0f);
        }
    }
}
