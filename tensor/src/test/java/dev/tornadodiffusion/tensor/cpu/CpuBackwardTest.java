package dev.tornadodiffusion.tensor.cpu;

import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * What the float64 gradchecks (training module) cannot reach at their small shapes: a convolution whose im2col
 * matrix exceeds one chunk, so its backward pass runs image by image, must give what each image gives alone.
 */
class CpuBackwardTest {
    static Tensor random(long seed, int... shape) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < a.length; i++) a[i] = (float) r.nextDouble(-1, 1);
        return Tensor.of(a, shape);
    }

    @Test
    void convolutionBackwardInChunksMatchesImageByImage() {
        CpuBackward bw = new CpuBackward();
        // 16 channels x 3x3 taps x 128x128 pixels: 2.4M im2col floats per image, so two images take two chunks
        Tensor x = random(1, 2, 16, 128, 128), w = random(2, 8, 16, 3, 3), dy = random(3, 2, 8, 128, 128);
        Tensor dw = bw.conv2dBackwardWeight(x, w.shape(), dy, 1, 1, 1), dx = bw.conv2dBackwardInput(w, dy, x.shape(), 1, 1, 1);
        float[] sum = new float[(int) w.numel()];
        for (int b = 0; b < 2; b++) {
            Tensor xb = x.narrow(0, b, 1).contiguous(), gb = dy.narrow(0, b, 1).contiguous();
            float[] part = bw.conv2dBackwardWeight(xb, w.shape(), gb, 1, 1, 1).toFloatArray();
            for (int i = 0; i < sum.length; i++) sum[i] += part[i];
            assertArrayEquals(bw.conv2dBackwardInput(w, gb, xb.shape(), 1, 1, 1).toFloatArray(), dx.narrow(0, b, 1).toFloatArray());
        }
        float[] got = dw.toFloatArray();
        for (int i = 0; i < sum.length; i++) assertEquals(sum[i], got[i], 1e-4 * Math.max(1, Math.abs(sum[i])), "dW[" + i + "]");
    }
}
