package dev.tornadodiffusion.tensor.cpu;

import java.util.Arrays;

/**
 * The B operand of a convolution as an implicit im2col matrix: depth index {@code (ci, ky, kx)} of the
 * kernel, lane index {@code (image, oy, ox)} of the output. Packing reads the input image directly, so
 * no [C*KH*KW, OH*OW] matrix is ever built (4.8 GB for a 3x3 conv of 128 channels at 1024x1024, as in the SDXL VAE).
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
        // The lanes split into runs that stay on one output row (pointwise: in one image). The runs are
        // the same for every depth row, so they are found once: {first lane, image plane 0, oy or pixel, ox, length}.
        int[] runs = new int[5 * lanes];
        int count = 0;
        for (int lane = lane0, end = lane0 + lanes; lane < end; count++) {
            int img = lane / pix, q = lane % pix, oy = pointwise ? q : q / ow, ox = pointwise ? 0 : q % ow;
            int len = Math.min(end - lane, pointwise ? pix - q : ow - ox);
            runs[5 * count] = lane - lane0;
            runs[5 * count + 1] = img * channels * h * w;
            runs[5 * count + 2] = oy;
            runs[5 * count + 3] = ox;
            runs[5 * count + 4] = len;
            lane += len;
        }
        int taps = kh * kw, ci = channel0 + depth0 / taps, ky = depth0 % taps / kw, kx = depth0 % kw;
        for (int p = 0; p < depth; p++) {
            int d = off + p * width, plane = ci * h * w;
            for (int r = 0; r < count; r++) {
                int o = d + runs[5 * r], base = runs[5 * r + 1] + plane, len = runs[5 * r + 4];
                if (pointwise) {
                    System.arraycopy(in, base + runs[5 * r + 2], dst, o, len);
                    continue;
                }
                int iy = runs[5 * r + 2] * stride - pad + ky, ix0 = runs[5 * r + 3] * stride - pad + kx;
                if (iy < 0 || iy >= h) {
                    Arrays.fill(dst, o, o + len, 0f);
                } else if (stride == 1) {
                    // ix = ix0 + t is inside the row for t in [lo, hi).
                    int row = base + iy * w, lo = Math.min(len, Math.max(0, -ix0)), hi = Math.max(lo, Math.min(len, w - ix0));
                    for (int t = 0; t < lo; t++) dst[o + t] = 0f;
                    System.arraycopy(in, row + ix0 + lo, dst, o + lo, hi - lo);
                    for (int t = hi; t < len; t++) dst[o + t] = 0f;
                } else {
                    int row = base + iy * w;
                    for (int t = 0, ix = ix0; t < len; t++, ix += stride) dst[o + t] = ix >= 0 && ix < w ? in[row + ix] : 0f;
                }
            }
            if (lanes < width) Arrays.fill(dst, d + lanes, d + width, 0f);
            if (++kx == kw) {
                kx = 0;
                if (++ky == kh) { ky = 0; ci++; }
            }
        }
    }
}
