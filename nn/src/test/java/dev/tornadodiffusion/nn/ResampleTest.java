package dev.tornadodiffusion.nn;

import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ResampleTest {

    /** A 3x3 conv over one channel whose only non-zero tap is (ty, tx), so the output picks one input pixel. */
    private static Params tapConv(int ty, int tx) {
        Tensor w = Tensor.zeros(1, 1, 3, 3);
        w.set(1f, 0, 0, ty, tx);
        return new Params(new MapStateDict().put("conv.weight", w).put("conv.bias", Tensor.zeros(1)), Backends.cpu());
    }

    private static Tensor ramp(int h, int w) {
        float[] v = new float[h * w];
        for (int i = 0; i < v.length; i++) v[i] = i + 1;
        return Tensor.of(v, 1, 1, h, w);
    }

    @Test
    void upsampleToOddSizeMatchesNearestInterpolation() {
        Upsample2D up = new Upsample2D(tapConv(1, 1), 1, 1);
        Tensor x = ramp(3, 4);
        Tensor y = up.forward(x, 5, 8);
        assertArrayEquals(new int[] {1, 1, 5, 8}, y.shape());
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 8; j++)   // F.interpolate(size=...) nearest: source index floor(dst * in / out)
                assertEquals(x.get(0, 0, i * 3 / 5, j * 4 / 8), y.get(0, 0, i, j), "at " + i + "," + j);
        assertThrows(IllegalArgumentException.class, () -> up.forward(x, 4, 8));
    }

    @Test
    void downsampleWithoutPaddingPadsRightAndBottom() {
        Downsample2D down = new Downsample2D(tapConv(2, 2), 1, 1, 0);
        Tensor y = down.forward(ramp(4, 4));
        // padded to 5x5, output 2x2; the bottom-right tap of the last window reads the added zero row/column
        assertArrayEquals(new float[] {11, 0, 0, 0}, y.toFloatArray());
        Downsample2D padded = new Downsample2D(tapConv(0, 0), 1, 1, 1);
        assertArrayEquals(new float[] {0, 0, 0, 6}, padded.forward(ramp(4, 4)).toFloatArray());
    }
}
