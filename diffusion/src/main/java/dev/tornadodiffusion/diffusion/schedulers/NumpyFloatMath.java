package dev.tornadodiffusion.diffusion.schedulers;

/**
 * {@code np.log} of float32 values as numpy (1.20+) computes it on any x86 CPU with AVX2 and FMA3 (its
 * {@code simd_log_FLOAT} kernel, identical under AVX512F): a 5th/5th-order rational approximation good to ~4 ulp,
 * so about one value in five differs from a correctly rounded log. The schedulers' Karras timesteps are
 * interpolated in these log sigmas.
 */
final class NumpyFloatMath {
    private NumpyFloatMath() {}

    private static final float SQRT1_2 = 0.707106781186547524400844362104849039f;
    private static final float LOGE2 = 0.693147180559945309417232121458176568f;
    private static final float P0 = 0.000000000000000000000e+00f, P1 = 9.999999999999998702752e-01f,
            P2 = 2.112677543073053063722e+00f, P3 = 1.480000633576506585156e+00f, P4 = 3.808837741388407920751e-01f,
            P5 = 2.589979117907922693523e-02f;
    private static final float Q0 = 1.000000000000000000000e+00f, Q1 = 2.612677543073109236779e+00f,
            Q2 = 2.453006071784736363091e+00f, Q3 = 9.864942958519418960339e-01f, Q4 = 1.546476374983906719538e-01f,
            Q5 = 5.875095403124574342950e-03f;

    static float log(float in) {
        if (Float.isNaN(in)) return Float.NaN;
        if (in < 0) return Float.NaN;
        if (in == 0) return Float.NEGATIVE_INFINITY;
        if (in == Float.POSITIVE_INFINITY) return Float.POSITIVE_INFINITY;
        // denormals are scaled by 2^100 before the exponent and mantissa are taken apart
        boolean denormal = in < Float.MIN_NORMAL;
        int bits = Float.floatToRawIntBits(denormal ? in * 0x1p100f : in);
        float exponent = (float) ((bits >>> 23) - 0x7E);
        if (denormal) exponent = exponent - 100f;
        float x = Float.intBitsToFloat((bits & 0x7fffff) | (126 << 23)); // mantissa in [0.5, 1)
        if (x <= SQRT1_2) {
            x = x + x;
            exponent = exponent - 1f;
        }
        x = x - 1f;
        float num = Math.fma(P5, x, P4);
        num = Math.fma(num, x, P3);
        num = Math.fma(num, x, P2);
        num = Math.fma(num, x, P1);
        num = Math.fma(num, x, P0);
        float den = Math.fma(Q5, x, Q4);
        den = Math.fma(den, x, Q3);
        den = Math.fma(den, x, Q2);
        den = Math.fma(den, x, Q1);
        den = Math.fma(den, x, Q0);
        return Math.fma(exponent, LOGE2, num / den);
    }
}
