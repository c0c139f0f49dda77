package dev.tornadodiffusion.diffusion.schedulers;

/**
 * {@code torch.log}, {@code torch.exp} and {@code torch.expm1} of float32 tensors as the CPU kernels compute them:
 * through SLEEF's 1-ulp vector functions ({@code Sleef_logf8_u10}, {@code expf8_u10}, {@code expm1f8_u10}, the AVX2
 * build with FMA), even for a single element. They are not always correctly rounded, so a scheduler doing its
 * scalar math with {@code Math.log} lands an ulp off now and then; these ports give the same bits.
 */
final class TorchFloatMath {
    private TorchFloatMath() {}

    private static final float R_LN2F = 1.442695040888963407359924681001892137426645954152985934135449406931f;
    private static final float L2UF = 0.693145751953125f, L2LF = 1.428606765330187045e-06f;

    /** A float-float value x + y (SLEEF's vfloat2). */
    private record DF(float x, float y) {}

    static float log(float d) {
        boolean subnormal = d < Float.MIN_NORMAL;
        float a = subnormal ? d * 0x1p64f : d;
        int e = ilogb2k(a * (1.0f / 0.75f));
        float m = Float.intBitsToFloat(Float.floatToRawIntBits(a) + (-e << 23));
        if (subnormal) e -= 64;
        DF s = mul(new DF(0.69314718246459960938f, -1.904654323148236017e-09f), (float) e);
        DF x = div(add2(-1f, m), add2(1f, m));
        float x2 = x.x * x.x;
        float t = Math.fma(0.3027294874e+0f, x2, 0.3996108174e+0f);
        t = Math.fma(t, x2, 0.6666694880e+0f);
        s = add(s, new DF(x.x * 2, x.y * 2));
        s = add(s, x2 * x.x * t);
        float r = s.x + s.y;
        if (d == Float.POSITIVE_INFINITY) r = Float.POSITIVE_INFINITY;
        if (d < 0 || Float.isNaN(d)) r = Float.NaN;
        if (d == 0) r = Float.NEGATIVE_INFINITY;
        return r;
    }

    static float exp(float d) {
        int q = (int) Math.rint(d * R_LN2F);
        float s = Math.fma((float) q, -L2UF, d);
        s = Math.fma((float) q, -L2LF, s);
        float u = (float) 0.000198527617612853646278381;
        u = Math.fma(u, s, (float) 0.00139304355252534151077271);
        u = Math.fma(u, s, (float) 0.00833336077630519866943359);
        u = Math.fma(u, s, (float) 0.0416664853692054748535156);
        u = Math.fma(u, s, (float) 0.166666671633720397949219);
        u = Math.fma(u, s, 0.5f);
        u = 1.0f + Math.fma(s * s, u, s);
        u = ldexp2(u, q);
        if (d < -104) u = 0;
        if (100 < d) u = Float.POSITIVE_INFINITY;
        return u;
    }

    static float expm1(float a) {
        DF d = add2(expk2(new DF(a, 0)), -1.0f);
        float x = d.x + d.y;
        if (a > 88.72283172607421875f) x = Float.POSITIVE_INFINITY;
        if (a < -16.635532333438687426013570f) x = -1;
        if (Float.floatToRawIntBits(a) == Float.floatToRawIntBits(-0.0f)) x = -0.0f;
        return x;
    }

    private static DF expk2(DF d) {
        int q = (int) Math.rint((d.x + d.y) * R_LN2F);
        DF s = add2(d, (float) q * -L2UF);
        s = add2(s, (float) q * -L2LF);
        float u = Math.fma(0.1980960224e-3f, s.x, 0.1394256484e-2f);
        u = Math.fma(u, s.x, 0.8333456703e-2f);
        u = Math.fma(u, s.x, 0.4166637361e-1f);
        DF t = add2(mul(s, u), 0.166666659414234244790680580464e+0f);
        t = add2(mul(s, t), 0.5f);
        t = add2(s, mul(square(s), t));
        t = add(1f, t);
        if (d.x < -104) return new DF(0, 0);
        return new DF(ldexp2(t.x, q), ldexp2(t.y, q));
    }

    private static int ilogb2k(float d) {
        return ((Float.floatToRawIntBits(d) >>> 23) & 0xff) - 0x7f;
    }

    private static float pow2i(int q) {
        return Float.intBitsToFloat((q + 0x7f) << 23);
    }

    private static float ldexp2(float d, int e) {
        return d * pow2i(e >> 1) * pow2i(e - (e >> 1));
    }

    // ---- float-float arithmetic (SLEEF df.h, FMA variants)

    private static DF add2(float x, float y) {
        float s = x + y, v = s - x;
        return new DF(s, (x - (s - v)) + (y - v));
    }

    private static DF add2(DF x, float y) {
        float s = x.x + y, v = s - x.x;
        float t = (x.x - (s - v)) + (y - v);
        return new DF(s, t + x.y);
    }

    private static DF add2(DF x, DF y) {
        float s = x.x + y.x, v = s - x.x;
        float t = (x.x - (s - v)) + (y.x - v);
        return new DF(s, t + (x.y + y.y));
    }

    private static DF add(DF x, DF y) {
        float s = x.x + y.x;
        return new DF(s, (x.x - s + y.x) + x.y + y.y);
    }

    private static DF add(DF x, float y) {
        float s = x.x + y;
        return new DF(s, (x.x - s + y) + x.y);
    }

    private static DF add(float x, DF y) {
        float s = x + y.x;
        return new DF(s, (x - s + y.x) + y.y);
    }

    private static DF mul(DF x, float y) {
        float s = x.x * y;
        return new DF(s, Math.fma(x.y, y, Math.fma(x.x, y, -s)));
    }

    private static DF mul(DF x, DF y) {
        float s = x.x * y.x;
        return new DF(s, Math.fma(x.x, y.y, Math.fma(x.y, y.x, Math.fma(x.x, y.x, -s))));
    }

    private static DF square(DF x) {
        float s = x.x * x.x;
        return new DF(s, Math.fma(x.x + x.x, x.y, Math.fma(x.x, x.x, -s)));
    }

    private static DF div(DF n, DF d) {
        float t = 1.0f / d.x;
        float s = n.x * t;
        float u = Math.fma(t, n.x, -s);
        float v = Math.fma(-d.y, t, Math.fma(-d.x, t, 1));
        return new DF(s, Math.fma(s, v, Math.fma(n.y, t, u)));
    }
}
