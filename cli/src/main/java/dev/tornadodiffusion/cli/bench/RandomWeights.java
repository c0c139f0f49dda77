package dev.tornadodiffusion.cli.bench;

import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.tensor.cpu.Parallel;
import dev.tornadodiffusion.weights.StateDict;
import dev.tornadodiffusion.weights.WeightFormatException;

import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Weights made in memory for a model built from its config alone: every tensor a module asks for is filled with
 * uniform noise the way PyTorch initialises layers (±1/sqrt(fan_in) for matrices and kernels), 1-D weights (norm
 * scales) near 1 and biases near 0. Values only need to keep activations finite; the timings do not depend on them.
 * A counter-based generator (SplitMix64 of seed and index) fills large tensors in parallel and deterministically.
 */
public final class RandomWeights implements StateDict, Params.Generator {
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();
    private final DType dtype;
    private final long seed;

    /** @param dtype F32 (heap float[]) or F16 / BF16 (heap memory, widened inside the kernels) */
    public RandomWeights(DType dtype, long seed) {
        if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16) throw new IllegalArgumentException("random weights are F32, F16 or BF16, not " + dtype);
        this.dtype = dtype;
        this.seed = seed;
    }

    /** Adds a tensor the model expects as stored rather than made (a buffer such as position ids). */
    public RandomWeights put(String key, Tensor t) {
        tensors.put(key, t);
        return this;
    }

    @Override
    public Tensor make(String key, int[] shape) {
        Tensor t = dtype == DType.F32 ? Tensor.zeros(shape) : Tensor.zeros(dtype, shape);
        long n = t.numel();
        float scale, center;
        if (shape.length >= 2) { scale = (float) (1 / Math.sqrt((double) n / shape[0])); center = 0; }
        else if (key.endsWith("weight")) { scale = 0.1f; center = 1; }
        else { scale = 0.1f; center = 0; }
        long base = seed * 0x9E3779B97F4A7C15L + key.hashCode();
        MemorySegment s = t.segment();
        float[] f = t.dtype() == DType.F32 ? t.array() : null;
        int blocks = Math.toIntExact((n + BLOCK - 1) / BLOCK);
        Parallel.forRange(blocks, 1, (from, to) -> {
            for (long i = (long) from * BLOCK, end = Math.min(n, (long) to * BLOCK); i < end; i++) {
                float v = center + scale * (2 * uniform(base + i) - 1);
                if (f != null) f[(int) i] = v;
                else dtype.write(s, i, v);
            }
        });
        tensors.put(key, t);
        return t;
    }

    private static final int BLOCK = 1 << 16;

    /** SplitMix64's finaliser: a uniform float in [0, 1) from any counter. */
    private static float uniform(long x) {
        x += 0x9E3779B97F4A7C15L;
        x = (x ^ (x >>> 30)) * 0xBF58476D1CE4E5B9L;
        x = (x ^ (x >>> 27)) * 0x94D049BB133111EBL;
        x ^= x >>> 31;
        return (x >>> 40) * 0x1p-24f;
    }

    @Override public String source() { return "random " + dtype + " weights"; }

    @Override public Set<String> keys() { return tensors.keySet(); }

    @Override
    public Tensor get(String key) {
        Tensor t = tensors.get(key);
        if (t == null) throw new WeightFormatException(source() + ": missing key '" + key + "'");
        return t;
    }
}
