package dev.tornadodiffusion.tensor.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Vector math that gives the same bits in every execution mode: exp from fma, multiply, add and exponent
 * bits only, and lane sums in a fixed order. The Vector API's own {@code lanewise(EXP)} and
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

    private static final double LN2_HI = 6.93147180369123816490e-01, LN2_LO = 1.90821492927058770002e-10, MAGIC = 6755399441055744.0;

    /** e^x for double lanes to about 1 ulp (degree-13 Taylor on |r| <= ln2/2); saturates below -708 and above 709. */
    static DoubleVector exp(DoubleVector x) {
        x = x.max(-708.0).min(709.0);
        DoubleVector n = x.fma(1.4426950408889634, MAGIC).sub(MAGIC);
        DoubleVector r = n.fma(bcast(n, -LN2_HI), x);
        r = n.fma(bcast(n, -LN2_LO), r);
        DoubleVector p = bcast(r, 1.0 / 6227020800.0);   // 1/13!
        for (int k = 12; k >= 1; k--) p = p.fma(r, bcast(r, 1.0 / factorial(k)));
        DoubleVector y = p.fma(r, bcast(r, 1.0));
        LongVector bits = ((LongVector) n.convert(VectorOperators.D2L, 0)).add(1023).lanewise(VectorOperators.LSHL, 52);
        return y.mul(bits.reinterpretAsDoubles());
    }

    /** tanh from exp: 1 - 2 / (e^(2x) + 1). */
    static DoubleVector tanh(DoubleVector x) {
        DoubleVector t = exp(x.mul(2));
        return bcast(t, 1.0).sub(bcast(t, 2.0).div(t.add(1)));
    }

    /** The lanes' sum in lane order, in double. {@code reduceLanes(ADD)} leaves the order open, and its JIT and interpreted forms differ. */
    static double sum(FloatVector v) {
        double s = 0;
        for (int i = 0; i < v.length(); i++) s += v.lane(i);
        return s;
    }

    private static FloatVector bcast(FloatVector like, float v) { return FloatVector.broadcast(like.species(), v); }

    private static DoubleVector bcast(DoubleVector like, double v) { return DoubleVector.broadcast(like.species(), v); }

    private static double factorial(int k) {
        double f = 1;
        for (int i = 2; i <= k; i++) f *= i;
        return f;
    }
}
