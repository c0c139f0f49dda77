package dev.tornadodiffusion.diffusion;

import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;

import java.lang.foreign.MemorySegment;

/**
 * PyTorch's CPU random generator ({@code CPUGeneratorImpl}: an mt19937 engine plus a cached normal value),
 * reproduced bit for bit: {@code new TorchGenerator(s).randn(shape)} equals
 * {@code torch.randn(shape, generator=torch.Generator().manual_seed(s))} (and {@code torch.manual_seed(s);
 * torch.randn(shape)}), including how the stream continues across calls. Sampling follows the CPU kernels of
 * torch 1.13 built for AVX2: {@code randn} of 16 or more float elements uses a 16-wide float Box-Muller with the
 * avx_mathfun approximations, smaller requests a scalar double Box-Muller whose second value is kept for the next
 * call.
 */
public final class TorchGenerator implements NoiseSource {
    private static final int N = 624, M = 397;
    private static final int MATRIX_A = 0x9908b0df, UPPER_MASK = 0x80000000, LOWER_MASK = 0x7fffffff;
    private static final float TWO_PI_F = (float) (2.0 * Math.PI);

    private final int[] state = new int[N];
    private int next;
    private long seed;
    private boolean hasNextDoubleNormal;
    private double nextDoubleNormal;

    public TorchGenerator(long seed) {
        manualSeed(seed);
    }

    /**
     * Re-seeds like {@code Generator.manual_seed}: the mt19937 state is initialised from the low 32 bits of the
     * seed (so 2**32+5 behaves as 5; negative seeds as their two's complement) and the cached normal is dropped.
     */
    public TorchGenerator manualSeed(long seed) {
        this.seed = seed;
        state[0] = (int) seed;
        for (int j = 1; j < N; j++) state[j] = 1812433253 * (state[j - 1] ^ (state[j - 1] >>> 30)) + j;
        next = N;
        hasNextDoubleNormal = false;
        return this;
    }

    /** The seed last given, as {@code Generator.initial_seed()} reports it. */
    public long initialSeed() {
        return seed;
    }

    // ---- raw draws

    /** The next 32-bit engine output ({@code generator->random()}), as an unsigned value. */
    public long random() {
        if (next >= N) twist();
        int y = state[next++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >>> 18;
        return y & 0xffffffffL;
    }

    /** {@code generator->random64()}: two 32-bit outputs, the first one in the high half. */
    public long random64() {
        long hi = random();
        long lo = random();
        return (hi << 32) | lo;
    }

    private void twist() {
        int kk = 0;
        for (; kk < N - M; kk++) state[kk] = state[kk + M] ^ mix(state[kk], state[kk + 1]);
        for (; kk < N - 1; kk++) state[kk] = state[kk + (M - N)] ^ mix(state[kk], state[kk + 1]);
        state[N - 1] = state[M - 1] ^ mix(state[N - 1], state[0]);
        next = 0;
    }

    private static int mix(int u, int v) {
        int y = (u & UPPER_MASK) | (v & LOWER_MASK);
        return (y >>> 1) ^ ((v & 1) != 0 ? MATRIX_A : 0);
    }

    // ---- scalar distributions

    /** {@code uniform_real_distribution<float>(0, 1)}: 24 random bits of one 32-bit draw. */
    public float uniformFloat() {
        return (random() & 0xFFFFFF) * 0x1p-24f;
    }

    /** {@code uniform_real_distribution<double>(0, 1)}: 53 random bits of one 64-bit draw. */
    public double uniformDouble() {
        return (random64() & ((1L << 53) - 1)) * 0x1p-53;
    }

    /**
     * {@code normal_distribution<double>}: Box-Muller on two uniform doubles; the sine half is cached in the
     * generator and returned by the next call.
     */
    public double normalDouble() {
        if (hasNextDoubleNormal) {
            hasNextDoubleNormal = false;
            return nextDoubleNormal;
        }
        double u1 = uniformDouble();
        double u2 = uniformDouble();
        double r = Math.sqrt(-2.0 * Math.log1p(-u2));
        double theta = 2.0 * Math.PI * u1;
        nextDoubleNormal = r * Math.sin(theta);
        hasNextDoubleNormal = true;
        return r * Math.cos(theta);
    }

    // ---- tensors

    /** {@code torch.randn(shape, generator=g)} as float32. */
    @Override
    public Tensor randn(int... shape) {
        float[] d = new float[Math.toIntExact(Tensor.numel(shape))];
        int n = d.length;
        if (n >= 16) {
            float[] scratch = new float[24];
            for (int i = 0; i < n; i++) d[i] = uniformFloat();
            for (int i = 0; i + 16 <= n; i += 16) normalFill16(d, i, scratch);
            if (n % 16 != 0) {
                // the last 16 values are recomputed from 16 fresh uniforms
                for (int i = n - 16; i < n; i++) d[i] = uniformFloat();
                normalFill16(d, n - 16, scratch);
            }
        } else {
            for (int i = 0; i < n; i++) d[i] = (float) normalDouble();
        }
        return Tensor.of(d, shape);
    }

    /** {@code torch.randn(shape, generator=g, dtype=dtype)} for F32 or F64. */
    public Tensor randn(DType dtype, int... shape) {
        if (dtype == DType.F32) return randn(shape);
        if (dtype != DType.F64) throw new IllegalArgumentException("randn supports F32 and F64, not " + dtype);
        double[] d = new double[Math.toIntExact(Tensor.numel(shape))];
        int n = d.length;
        if (n >= 16) {
            for (int i = 0; i < n; i++) d[i] = uniformDouble();
            for (int i = 0; i + 16 <= n; i += 16) normalFill16(d, i);
            if (n % 16 != 0) {
                for (int i = n - 16; i < n; i++) d[i] = uniformDouble();
                normalFill16(d, n - 16);
            }
        } else {
            for (int i = 0; i < n; i++) d[i] = normalDouble();
        }
        return Tensor.wrap(MemorySegment.ofArray(d), DType.F64, shape);
    }

    /** {@code torch.rand(shape, generator=g)} as float32. */
    public Tensor rand(int... shape) {
        float[] d = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < d.length; i++) d[i] = uniformFloat();
        return Tensor.of(d, shape);
    }

    /** {@code torch.rand(shape, generator=g, dtype=dtype)} for F32 or F64. */
    public Tensor rand(DType dtype, int... shape) {
        if (dtype == DType.F32) return rand(shape);
        if (dtype != DType.F64) throw new IllegalArgumentException("rand supports F32 and F64, not " + dtype);
        double[] d = new double[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < d.length; i++) d[i] = uniformDouble();
        return Tensor.wrap(MemorySegment.ofArray(d), DType.F64, shape);
    }

    /**
     * normal_fill_16_AVX2: uniforms d[i..i+15] become 16 normals, radius * cos in the first 8 and radius * sin in
     * the last 8; {@code scratch} holds the 8 sines and cosines.
     */
    private static void normalFill16(float[] d, int i, float[] scratch) {
        for (int j = 0; j < 8; j++) AvxMathFun.sincos(TWO_PI_F * d[i + 8 + j], scratch, j, scratch, 8 + j);
        for (int j = 0; j < 8; j++) {
            float radius = (float) Math.sqrt(-2f * AvxMathFun.log(1f - d[i + j]));
            d[i + j] = radius * scratch[8 + j];
            d[i + 8 + j] = radius * scratch[j];
        }
    }

    /** normal_fill_16 for double: libm log/sin/cos. */
    private static void normalFill16(double[] d, int i) {
        for (int j = 0; j < 8; j++) {
            double u1 = 1 - d[i + j];
            double u2 = d[i + 8 + j];
            double radius = Math.sqrt(-2 * Math.log(u1));
            double theta = 2.0 * Math.PI * u2;
            d[i + j] = radius * Math.cos(theta);
            d[i + 8 + j] = radius * Math.sin(theta);
        }
    }
}
