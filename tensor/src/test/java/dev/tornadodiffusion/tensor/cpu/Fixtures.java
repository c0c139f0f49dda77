package dev.tornadodiffusion.tensor.cpu;

import dev.tornadodiffusion.tensor.Tensor;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.fail;

/** Random tensors and tolerant comparison for the CPU kernel tests. */
final class Fixtures {
    private Fixtures() {}

    /** Uniform in [-1, 1). */
    static Tensor rand(Random r, int... shape) {
        return uniform(r, -1, 1, shape);
    }

    static Tensor uniform(Random r, float lo, float hi, int... shape) {
        float[] v = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < v.length; i++) v[i] = lo + (hi - lo) * r.nextFloat();
        return Tensor.of(v, shape);
    }

    /** Every element within {@code atol + rtol * |expected|}; the message names the worst element. */
    static void assertClose(String what, Tensor expected, Tensor actual, double rtol, double atol) {
        assertArrayEquals(expected.shape(), actual.shape(), () -> what + ": shape " + Arrays.toString(actual.shape()) + ", expected " + Arrays.toString(expected.shape()));
        float[] e = expected.toFloatArray(), a = actual.toFloatArray();
        int worst = -1;
        double worstExcess = 0;
        for (int i = 0; i < e.length; i++) {
            double err = Math.abs((double) e[i] - a[i]), allowed = atol + rtol * Math.abs(e[i]);
            if (!(err <= allowed) && (worst < 0 || err - allowed > worstExcess)) { worst = i; worstExcess = err - allowed; }
        }
        if (worst >= 0)
            fail(what + ": element " + worst + " of " + Arrays.toString(expected.shape()) + ": expected " + e[worst] + ", got " + a[worst]);
    }
}
