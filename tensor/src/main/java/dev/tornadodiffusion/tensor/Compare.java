package dev.tornadodiffusion.tensor;

import java.util.Arrays;

/**
 * Element-wise comparison of a result with a reference, as the parity tests and {@code diffuse parity} report it:
 * the largest absolute error, the largest error relative to the reference's scale (max|a-b| / max|b|),
 * the tolerance rule and whether it holds. Values are read exactly: floats as doubles ({@link Tensor#toDoubleArray()},
 * F64 included), integers as longs. NaN matches only NaN and an infinity only the same infinity.
 */
public final class Compare {
    private Compare() {}

    public record Check(String name, double maxAbs, double maxRel, String tolerance, boolean pass, String problem) {
        @Override
        public String toString() {
            return String.format("%-44s max_abs=%.3e max_rel=%.3e tol %-22s %s%s", name, maxAbs, maxRel, tolerance,
                    pass ? "PASS" : "FAIL", problem == null ? "" : " (" + problem + ")");
        }

        /** This check failed for {@code problem} (a dtype mismatch, say), whatever its values gave. */
        public Check failed(String problem) {
            return new Check(name, maxAbs, maxRel, tolerance, false, problem);
        }
    }

    /** Passes when every element is equal. */
    public static Check exact(String name, Tensor actual, Tensor expected) {
        return mixed(name, actual, expected, 0, 0);
    }

    /** Passes when every |a - b| <= tol. */
    public static Check absolute(String name, Tensor actual, Tensor expected, double tol) {
        return mixed(name, actual, expected, tol, 0);
    }

    /** Passes when every |a - b| <= rel * (1 + |b|). */
    public static Check relative(String name, Tensor actual, Tensor expected, double rel) {
        return mixed(name, actual, expected, rel, rel);
    }

    /** Passes when every |a - b| <= atol + rtol * |b|. */
    public static Check mixed(String name, Tensor actual, Tensor expected, double atol, double rtol) {
        String rule = rule(atol, rtol);
        if (!Arrays.equals(actual.shape(), expected.shape()))
            return new Check(name, Double.NaN, Double.NaN, rule, false, "shape " + Arrays.toString(actual.shape()) + " vs expected " + Arrays.toString(expected.shape()));
        double[] a = actual.toDoubleArray(), b = expected.toDoubleArray();
        boolean integers = !actual.dtype().floating && !expected.dtype().floating;   // differences of longs: exact beyond 2^53 too
        long[] la = integers ? actual.toLongArray() : null, lb = integers ? expected.toLongArray() : null;
        double maxAbs = 0, maxRef = 0;
        boolean pass = true;
        for (int i = 0; i < a.length; i++) {
            double x = a[i], y = b[i];
            double d = integers ? Math.abs((double) (la[i] - lb[i])) : x == y || Double.isNaN(x) && Double.isNaN(y) ? 0 : Math.abs(x - y);
            if (!Double.isFinite(d)) d = Double.POSITIVE_INFINITY;   // NaN against a number, or a wrong infinity
            maxAbs = Math.max(maxAbs, d);
            if (Double.isFinite(y)) maxRef = Math.max(maxRef, Math.abs(y));
            if (d != 0 && !(d < Double.POSITIVE_INFINITY && d <= atol + rtol * Math.abs(y))) pass = false;
        }
        return new Check(name, maxAbs, maxRef == 0 ? maxAbs : maxAbs / maxRef, rule, pass, null);
    }

    /** The rule in words: "exact", "abs<=1e-04", "<=1e-06*|b|", "<=1e-04*(1+|b|)" or "<=1e-04+1e-03*|b|". */
    private static String rule(double atol, double rtol) {
        if (rtol == 0) return atol == 0 ? "exact" : "abs<=" + fmt(atol);
        if (atol == 0) return "<=" + fmt(rtol) + "*|b|";
        if (atol == rtol) return "<=" + fmt(rtol) + "*(1+|b|)";
        return "<=" + fmt(atol) + "+" + fmt(rtol) + "*|b|";
    }

    private static String fmt(double v) { return String.format("%.0e", v); }
}
