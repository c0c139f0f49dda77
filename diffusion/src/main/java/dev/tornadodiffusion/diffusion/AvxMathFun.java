package dev.tornadodiffusion.diffusion;

/**
 * The float log and sin/cos approximations PyTorch's AVX2 {@code torch.randn} uses (cephes polynomials from
 * ATen's avx_mathfun.h, {@code log256_ps} / {@code sincos256_ps}), one lane at a time. The multiply-adds that
 * GCC contracted into FMA instructions when it compiled them are {@link Math#fma} here, so results are bit-exact;
 * plain {@code Math.log}/{@code sin}/{@code cos} would differ by an ulp or two in about 1% of the values.
 * Constants are written as in the C source (double literals rounded to float).
 */
final class AvxMathFun {
    private AvxMathFun() {}

    private static final float SQRTHF = (float) 0.707106781186547524;
    private static final float LOG_P0 = (float) 7.0376836292E-2, LOG_P1 = (float) -1.1514610310E-1,
            LOG_P2 = (float) 1.1676998740E-1, LOG_P3 = (float) -1.2420140846E-1, LOG_P4 = (float) 1.4249322787E-1,
            LOG_P5 = (float) -1.6668057665E-1, LOG_P6 = (float) 2.0000714765E-1, LOG_P7 = (float) -2.4999993993E-1,
            LOG_P8 = (float) 3.3333331174E-1;
    private static final float LOG_Q1 = (float) -2.12194440e-4, LOG_Q2 = (float) 0.693359375;

    private static final float MINUS_DP1 = (float) -0.78515625, MINUS_DP2 = (float) -2.4187564849853515625e-4,
            MINUS_DP3 = (float) -3.77489497744594108e-8;
    private static final float SINCOF_P0 = (float) -1.9515295891E-4, SINCOF_P1 = (float) 8.3321608736E-3,
            SINCOF_P2 = (float) -1.6666654611E-1;
    private static final float COSCOF_P0 = (float) 2.443315711809948E-005, COSCOF_P1 = (float) -1.388731625493765E-003,
            COSCOF_P2 = (float) 4.166664568298827E-002;
    private static final float FOPI = (float) 1.27323954473516; // 4 / pi

    /** log256_ps: natural log; NaN for x <= 0. */
    static float log(float x) {
        if (x <= 0) return Float.NaN;
        x = Math.max(x, Float.MIN_NORMAL); // cut off denormals
        int bits = Float.floatToRawIntBits(x);
        int exponent = bits >>> 23;
        x = Float.intBitsToFloat((bits & ~0x7f800000) | Float.floatToRawIntBits(0.5f)); // mantissa in [0.5, 1)
        float e = (float) (exponent - 0x7f) + 1f;
        // if x < sqrt(1/2): e -= 1, x = x + x - 1, else x = x - 1
        boolean small = x < SQRTHF;
        float tmp = small ? x : 0f;
        x = x - 1f;
        e = e - (small ? 1f : 0f);
        x = x + tmp;
        float z = x * x;
        float y = Math.fma(LOG_P0, x, LOG_P1);
        y = Math.fma(y, x, LOG_P2);
        y = Math.fma(y, x, LOG_P3);
        y = Math.fma(y, x, LOG_P4);
        y = Math.fma(y, x, LOG_P5);
        y = Math.fma(y, x, LOG_P6);
        y = Math.fma(y, x, LOG_P7);
        y = Math.fma(y, x, LOG_P8);
        y = y * x;
        y = Math.fma(y, z, e * LOG_Q1);
        y = Math.fma(z, -0.5f, y);
        x = x + y;
        return Math.fma(e, LOG_Q2, x);
    }

    /** sincos256_ps: writes sin(x) to {@code sin[si]} and cos(x) to {@code cos[ci]}. */
    static void sincos(float x, float[] sin, int si, float[] cos, int ci) {
        int signSin = Float.floatToRawIntBits(x) & 0x80000000;
        x = Math.abs(x);
        int j = (int) (x * FOPI);  // cvttps: truncation
        j = (j + 1) & ~1;          // j = (j+1) & ~1 as in cephes
        float y = j;
        int swapSignSin = (j & 4) << 29;
        boolean polyIsSin = (j & 2) == 0;
        // extended precision modular arithmetic: x = ((x - y*DP1) - y*DP2) - y*DP3
        x = Math.fma(y, MINUS_DP1, x);
        x = Math.fma(y, MINUS_DP2, x);
        x = Math.fma(y, MINUS_DP3, x);
        int signCos = (~(j - 2) & 4) << 29;
        signSin ^= swapSignSin;

        float z = x * x;
        float yc = Math.fma(COSCOF_P0, z, COSCOF_P1);
        yc = Math.fma(yc, z, COSCOF_P2);
        yc = yc * z;
        yc = Math.fma(yc, z, -(z * 0.5f));
        yc = yc + 1f;

        float ys = Math.fma(SINCOF_P0, z, SINCOF_P1);
        ys = Math.fma(ys, z, SINCOF_P2);
        ys = ys * z;
        ys = Math.fma(ys, x, x);

        // select the polynomials as the masked adds/subtracts of the original do
        float ysin2 = polyIsSin ? ys : 0f;
        float ysin1 = polyIsSin ? 0f : yc;
        float s = ysin1 + ysin2;
        float c = (yc - ysin1) + (ys - ysin2);
        sin[si] = Float.intBitsToFloat(Float.floatToRawIntBits(s) ^ signSin);
        cos[ci] = Float.intBitsToFloat(Float.floatToRawIntBits(c) ^ signCos);
    }
}
