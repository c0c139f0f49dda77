package dev.tornadodiffusion.tensor.cpu;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Random;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * The same op on the same input gives the same bits every time, across the JIT's warm-up (the Vector API's
 * transcendental lanes and lane reductions used to change results between interpreted and compiled code).
 */
class DeterminismTest {
    final Backend be = new CpuBackend();
    final Random r = new Random(5);

    Tensor random(int... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        return Tensor.of(v, shape);
    }

    void repeatable(String op, Supplier<Tensor> f) {
        float[] first = f.get().toFloatArray();
        for (int k = 0; k < 30; k++) assertArrayEquals(first, f.get().toFloatArray(), 0f, op + ", repetition " + k);
    }

    @Test
    void everyOpGivesTheSameBitsEveryTime() {
        Tensor img = random(3, 64, 16, 16), w3 = random(64, 64, 3, 3), b = random(64);
        Tensor rows = random(3, 300, 96), w = random(200, 96);
        Tensor q = random(2, 256, 64), k = random(2, 256, 64), v = random(2, 256, 64);
        repeatable("conv2d", () -> be.conv2d(img, w3, b, 1, 1, 1));
        repeatable("linear", () -> be.linear(rows, w, null));
        repeatable("attention", () -> be.attention(q, k, v, 2, false));
        repeatable("groupNorm+silu", () -> be.groupNorm(img, 8, b, b, 1e-6f, true));
        repeatable("layerNorm", () -> be.layerNorm(rows, null, null, 1e-5f));
        repeatable("softmax", () -> be.softmax(rows));
        repeatable("silu", () -> be.silu(rows));
        repeatable("gelu", () -> be.gelu(rows));
        repeatable("quickGelu", () -> be.quickGelu(rows));
    }
}
