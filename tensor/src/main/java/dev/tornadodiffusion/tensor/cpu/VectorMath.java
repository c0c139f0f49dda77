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
    // Constants as vectors of species S (folded by the JIT): a helper call per constant, or the vector-operand fma
    // with a broadcast inside, passed C2's inlining node budget where exp is inlined more than once, and every
    // vector crossing a call that was not inlined is boxed (GELU ran at 0.4 G elements/s instead of 2).
    private static final FloatVector LN2_HI = c(-0.693359375f), LN2_LO = c(2.12194440e-4f), ONE = c(1f),
            E3 = c(8.3334519073e-3f), E4 = c(4.1665795894e-2f), E5 = c(1.6666665459e-1f), E6 = c(5.0000001201e-1f),
            G2 = c(1.48851587f), G3 = c(-1.13520398f), G4 = c(0.27886807f), G5 = c(-0.18628806f), G6 = c(0.09678418f),
            G7 = c(0.37409196f), G8 = c(1.00002368f), G9 = c(-1.26551223f);

    /** e^x for float lanes of species {@link Gemm#S}, about 1 ulp (Cephes expf polynomial); saturates below -87.3 and above 88. */
    static FloatVector exp(FloatVector x) {
        x = x.max(-87.33654f).min(88f);
        FloatVector n = x.fma(LOG2E_F, MAGIC_F).sub(MAGIC_F);
        FloatVector r = n.fma(LN2_HI, x);
        r = n.fma(LN2_LO, r);
        FloatVector p = r.fma(1.9875691500e-4f, 1.3981999507e-3f).fma(r, E3).fma(r, E4).fma(r, E5).fma(r, E6);
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
        return x.mul(normalCdf(x));
    }

    /** d/dx of the exact GELU, {@code Phi(x) + x phi(x)}, with Phi as in {@link #gelu}. */
    static FloatVector geluGrad(FloatVector x) {
        FloatVector pdf = exp(x.mul(x).mul(-0.5f)).mul(0.39894228f);
        return x.fma(pdf, normalCdf(x));
    }

    /** Phi(x) from erfc of |x| / sqrt 2. */
    private static FloatVector normalCdf(FloatVector x) {
        FloatVector z = x.abs().mul(0.70710678f);
        FloatVector t = ONE.div(z.fma(0.5f, 1f));
        FloatVector poly = t.fma(0.17087277f, -0.82215223f).fma(t, G2).fma(t, G3).fma(t, G4).fma(t, G5).fma(t, G6)
                .fma(t, G7).fma(t, G8).fma(t, G9);
        FloatVector half = t.mul(exp(poly.sub(z.mul(z)))).mul(0.5f);   // Phi(-|x|) = erfc(|x| / sqrt 2) / 2
        return half.blend(ONE.sub(half), x.compare(VectorOperators.GE, 0f));
    }

    /** SiLU, {@code x / (1 + e^-x)}. */
    static FloatVector silu(FloatVector x) {
        return x.div(exp(x.neg()).add(1f));
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

    private static FloatVector c(float v) { return FloatVector.broadcast(Gemm.S, v); }

}
