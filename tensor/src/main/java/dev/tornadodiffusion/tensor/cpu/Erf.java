package dev.tornadodiffusion.tensor.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** erf(x) to double precision (W. J. Cody's rational approximations, as in most libm). */
public final class Erf {
    private Erf() {}

    /** The species of the vector form: doubles of the preferred shape. */
    static final VectorSpecies<Double> DS = DoubleVector.SPECIES_PREFERRED;

    // Cody's coefficients as vectors: a helper call per constant would exhaust the JIT's inlining budget.
    private static final DoubleVector P2 = c(113.86415415105016), P3 = c(377.485237685302), P4 = c(3209.3775891384694),
            Q1 = c(244.02463793444417), Q2 = c(1282.6165260773723), Q3 = c(2844.2368334391704),
            R2 = c(8.883149794388377), R3 = c(66.11919063714163), R4 = c(298.6351381974001), R5 = c(881.952221241769),
            R6 = c(1712.0476126340707), R7 = c(2051.0783778260716), R8 = c(1230.3393547979972),
            T1 = c(117.6939508913125), T2 = c(537.1811018620099), T3 = c(1621.3895745666903), T4 = c(3290.799235733460),
            T5 = c(4362.619090143247), T6 = c(3439.3676741437216), T7 = c(1230.3393548037495);

    /**
     * erf of every lane (species {@link #DS}): the same two rational approximations, both evaluated and
     * blended, with {@code exp(-x^2)} taken directly (exact enough in double for float results). Beyond
     * |x| = 4, where Cody switches to an asymptotic form, erfc is below 2e-8 and the second form still
     * gives it to far better than float precision of {@code 1 - erfc}.
     */
    static DoubleVector erf(DoubleVector x) {
        DoubleVector t = x.mul(x), a = x.abs();
        DoubleVector top = t.fma(0.1857777061846032, 3.161123743870566).fma(t, P2).fma(t, P3).fma(t, P4);
        DoubleVector bot = t.add(23.601290952344122).fma(t, Q1).fma(t, Q2).fma(t, Q3);
        DoubleVector num = a.fma(2.1531153547440383e-8, 0.5641884969886701).fma(a, R2).fma(a, R3).fma(a, R4).fma(a, R5)
                .fma(a, R6).fma(a, R7).fma(a, R8);
        DoubleVector den = a.add(15.744926110709835).fma(a, T1).fma(a, T2).fma(a, T3).fma(a, T4).fma(a, T5).fma(a, T6).fma(a, T7);
        // One division for both forms: each lane divides the pair of polynomials of its own range.
        VectorMask<Double> small = a.compare(VectorOperators.LT, 0.5);
        DoubleVector ratio = num.blend(top, small).div(den.blend(bot, small));
        DoubleVector one = VectorMath.exp(t.neg()).mul(ratio).neg().add(1);
        return one.blend(one.neg(), x.compare(VectorOperators.LT, 0)).blend(x.mul(ratio), small);
    }

    private static DoubleVector c(double v) { return DoubleVector.broadcast(DS, v); }

    public static double erf(double x) {
        double ax = Math.abs(x);
        if (ax < 0.5) {
            double t = x * x;
            double top = (((0.1857777061846032 * t + 3.161123743870566) * t + 113.86415415105016) * t + 377.485237685302) * t + 3209.3775891384694;
            double bot = (((t + 23.601290952344122) * t + 244.02463793444417) * t + 1282.6165260773723) * t + 2844.2368334391704;
            return x * top / bot;
        }
        double r = erfc(ax);
        return x < 0 ? r - 1 : 1 - r;
    }

    /** erfc for x >= 0.5. */
    private static double erfc(double x) {
        double r;
        if (x < 4) {
            double top = (((((((2.1531153547440383e-8 * x + 0.5641884969886701) * x + 8.883149794388377) * x + 66.11919063714163) * x
                    + 298.6351381974001) * x + 881.952221241769) * x + 1712.0476126340707) * x + 2051.0783778260716) * x + 1230.3393547979972;
            double bot = (((((((x + 15.744926110709835) * x + 117.6939508913125) * x + 537.1811018620099) * x + 1621.3895745666903) * x
                    + 3290.799235733460) * x + 4362.619090143247) * x + 3439.3676741437216) * x + 1230.3393548037495;
            r = top / bot;
        } else {
            double z = 1 / (x * x);
            double top = ((((0.016315387137302097 * z + 0.30532663496123236) * z + 0.36034489994980445) * z + 0.12578172611122926) * z
                    + 0.016083785148742275) * z + 6.587491615298378e-4;
            double bot = ((((z + 2.568520192289822) * z + 1.8729528499234604) * z + 0.5279051029514285) * z + 0.06051834131244132) * z
                    + 0.0023352049762686918;
            r = (1 / Math.sqrt(Math.PI) - z * top / bot) / x;
        }
        double xs = Math.floor(x * 16) / 16;
        return Math.exp(-xs * xs) * Math.exp(-(x - xs) * (x + xs)) * r;
    }
}
