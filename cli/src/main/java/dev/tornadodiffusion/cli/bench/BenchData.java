package dev.tornadodiffusion.cli.bench;

import dev.tornadodiffusion.tensor.Tensor;

import java.util.Random;

/** Seeded random inputs for the benchmarks. */
public final class BenchData {
    private BenchData() {}

    public static Tensor random(long seed, int... shape) {
        Random r = new Random(seed);
        float[] v = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < v.length; i++) v[i] = r.nextFloat() - 0.5f;
        return Tensor.of(v, shape);
    }
}
