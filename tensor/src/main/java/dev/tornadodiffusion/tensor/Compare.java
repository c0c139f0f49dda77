package dev.tornadodiffusion.tensor;

import java.util.Arrays;

/**
 * Element-wise comparison of a result with a reference, as the parity tests and {@code diffuse parity} report it:
 * the largest absolute error, the largest error relative to the reference's scale (max|a-b| / max|b|),
 * the tolerance rule and whether it holds.
 */
public final class Compare {
    private Compare() {}

    public record Check(String name, double maxAbs, double maxRel, String tolerance, boolean pass, String problem) {
        @Override
        public String toString() {
            return String.format("%-44s max_abs=%.3e max_rel=%.3e tol %-22s %s%s", name, maxAbs, maxRel, tolerance,
                    pass ? "PASS" : "FAIL", problem == null ? "" : " (" + problem + ")");
        }
    }

    /** Passes when every |a - b| <= tol. */
    public static Check absolute(String name, Tensor actual, Tensor expected, double tol) {
        return compare(name, actual, expected, tol, 0, "abs<=" + fmt(tol));
    }

    /** Passes when every |a - b| <= rel * (1 + |b|). */
    public static Check relative(String name, Tensor actual, Tensor expected, double rel) {
        return compare(name, actual, expected, 0, rel, "<=" + fmt(rel) + "*(1+|b|)");
    }

    /** Passes when every |a - b| <= abs + rel * |b|. */
    public static Check mixed(String name, Tensor actual, Tensor expected, double abs, double rel) {
        return compare(name, actual, expected, abs, rel, "<=" + fmt(abs) + "+" + fmt(rel) + "*|b|");
    }

    private static Check compare(String name, Tensor a, Tensor b, double abs, double rel, String rule) {
        if (!Arrays.equals(a.shape(), b.shape()))
            return new Check(name, Double.NaN, Double.NaN, rule, false, "shape " + Arrays.toString(a.shape()) + " vs expected " + Arrays.toString(b.shape()));
        double maxAbs = 0, maxRef = 0;
        boolean pass = true;
        long n = a.numel();
        for (long i = 0; i < n; i++) {
            double x = a.getFlat(i), y = b.getFlat(i), d = Math.abs(x - y);
            if (Double.isNaN(d)) { pass = false; maxAbs = Double.NaN; continue; }
            maxAbs = Math.max(maxAbs, d);
            maxRef = Math.max(maxRef, Math.abs(y));
            double limit = rel == 0 ? abs : abs + rel * (abs == 0 ? 1 + Math.abs(y) : Math.abs(y));
            if (d > limit) pass = false;
        }
        return new Check(name, maxAbs, maxRef == 0 ? maxAbs : maxAbs / maxRef, rule, pass, null);
    }

    private static String fmt(double v) { return String.format("%.0e", v); }
}
