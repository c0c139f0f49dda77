package dev.tornadodiffusion.tensor.cpu;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class ExpSinCosClampTest {
    final Backend be = new CpuBackend();
    final float[] x = {-40f, -1.5f, 0f, 0.25f, 3f, 6283.1855f, Float.NaN};

    @Test
    void unaryOpsAreWithinOneUlpOfTheExactFunctions() {
        Tensor t = Tensor.of(x, x.length);
        float[] e = be.exp(t).toFloatArray(), s = be.sin(t).toFloatArray(), c = be.cos(t).toFloatArray();
        for (int i = 0; i < x.length; i++) {
            assertClose(Math.exp(x[i]), e[i]);
            assertClose(Math.sin(x[i]), s[i]);
            assertClose(Math.cos(x[i]), c[i]);
        }
        assertEquals(0f, be.sin(Tensor.of(new float[]{0f}, 1)).item());
        assertEquals(1f, be.exp(Tensor.of(new float[]{0f}, 1)).item());
    }

    static void assertClose(double exact, float actual) {
        if (Double.isNaN(exact)) assertTrue(Float.isNaN(actual));
        else assertEquals((float) exact, actual, Math.ulp((float) exact), "exact " + exact);
    }

    @Test
    void clampBoundsAndKeepsNaN() {
        float[] y = be.clamp(Tensor.of(x, x.length), -30f, 20f).toFloatArray();
        assertArrayEquals(new float[]{-30f, -1.5f, 0f, 0.25f, 3f, 20f, Float.NaN}, y);
    }

    @Test
    void viewsAreReadInLogicalOrder() {
        Tensor m = Tensor.of(new float[]{1, 2, 3, 4, 5, 6}, 2, 3).transpose(0, 1);
        assertArrayEquals(new float[]{1, 4, 2, 5, 3, 6}, be.clamp(m, 0f, 10f).toFloatArray());
        assertArrayEquals(new int[]{3, 2}, be.exp(m).shape());
    }
}
