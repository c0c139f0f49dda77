package dev.tornadodiffusion.tensor.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Vector math that gives the same bits in every execution mode: exp, GELU from fma, multiply, add, divide and
 * exponent bits only, and lane sums in a fixed order. The Vector API's own {@code lanewise(EXP)} and
 * {@code reduceLanes(ADD)} compute one way before the JIT intrinsifies them and another way after, so the
 * same input gave results differing in the last bit between two calls; "same seed, same image" is exact.
 */
final class VectorMath {
    private VectorMath() {}

    private static final float LOG2E_F = 1.44269504088896341f, MAGIC_F = 12582912f;   // 1.5 * 2^23: adding rounds to an integer
    private static final float LN2_HI_F = 0.693359375f, LN2_LO_F = -2.12194440e-4f;

    /** e^x for float lanes, about 1 ulp (Cephes expf polynomial); saturates below -87.3 and above 88. */
    static FloatVector exp(FloatVector x) {
        x = x.max(-87.33654f).min(88f);
        FloatVector n = x.fma(LOG2E_F, MAGIC_F).sub(MAGIC_F);
        FloatVector r = n.fma(bcast(n, -LN2_HI_F), x);
        r = n.fma(bcast(n, -LN2_LO_F), r);
        FloatVector p = r.fma(1.9875691500e-4f, 1.3981999507e-3f).fma(r, bcast(r, 8.3334519073e-3f))
                .fma(r, bcast(r, 4.1665795894e-2f)).fma(r, bcast(r, 1.6666665459e-1f)).fma(r, bcast(r, 5.0000001201e-1f));
        FloatVector y = p.mul(r).fma(r, r).add(1f);
        IntVector bits = ((IntVector) n.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23);
        return y.mul(bits.reinterpretAsFloats());
    }

    /**
     * Exact GELU {@code x Phi(x)} in float lanes. Phi comes from erfc of |x| / sqrt 2 directly, never as
     * {@code 1 - erf} near -1, so negative inputs keep their relative accuracy. erfc is the Chebyshev fit of
     * Numerical Recipes' erfcc, {@code t exp(-z^2 + poly(t))} with {@code t = 1 / (1 + z/2)}: relative error below
     * 1.2e-7 for every z >= 0, which float rounding of the exponent's argument raises to about 1e-6 at z = 4.
     */
    static FloatVector gelu(FloatVector x) {
        FloatVector z = x.abs().mul(0.70710678f);
        FloatVector t = bcast(z, 1f).div(z.fma(0.5f, 1f));
        FloatVector poly = t.fma(0.17087277f, -0.82215223f).fma(t, bcast(t, 1.48851587f)).fma(t, bcast(t, -1.13520398f))
                .fma(t, bcast(t, 0.27886807f)).fma(t, bcast(t, -0.18628806f)).fma(t, bcast(t, 0.09678418f))
                .fma(t, bcast(t, 0.37409196f)).fma(t, bcast(t, 1.00002368f)).fma(t, bcast(t, -1.26551223f));
        FloatVector half = t.mul(exp(poly.sub(z.mul(z)))).mul(0.5f);   // Phi(-|x|) = erfc(|x| / sqrt 2) / 2
        return x.mul(half.blend(bcast(half, 1f).sub(half), x.compare(VectorOperators.GE, 0f)));
    }

    /** tanh-approximated GELU as {@code x sigmoid(2u)}, u = sqrt(2/pi) (x + 0.044715 x^3): no 1 - tanh cancellation. */
    static FloatVector geluTanh(FloatVector x) {
        FloatVector u2 = x.mul(x).fma(0.044715f, 1f).mul(x).mul(2 * 0.7978845608f);
        return x.div(exp(u2.neg()).add(1f));
    }

    /** The lanes' sum in lane order, in double. {@code reduceLanes(ADD)} leaves the order open, and its JIT and interpreted forms differ. */
    static double sum(FloatVector v) {
        double s = 0;
        for (int i = 0; i < v.length(); i++) s += v.lane(i);
        return s;
    }

    private static FloatVector bcast(FloatVector like, float v) { return FloatVector.broadcast(like.species(), v); }

}
