package dev.tornadodiffusion.diffusion;

import dev.tornadodiffusion.tensor.Tensor;

import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * One tensor of a parity run against an upstream fixture: the worst absolute and relative error and whether every
 * element satisfies {@code |actual - expected| <= atol + rtol * |expected|}.
 */
public record ParityCheck(String name, double maxAbsErr, double maxRelErr, double atol, double rtol, boolean pass) {

    /** Compares element by element; a length mismatch fails with infinite error. NaN matches only NaN. */
    public static ParityCheck compare(String name, double[] actual, double[] expected, double atol, double rtol) {
        if (actual.length != expected.length)
            return new ParityCheck(name + " (" + actual.length + " values, expected " + expected.length + ")",
                    Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY, atol, rtol, false);
        double maxAbs = 0, maxRel = 0;
        boolean pass = true;
        for (int i = 0; i < actual.length; i++) {
            double a = actual[i], b = expected[i];
            double err = Double.isNaN(a) && Double.isNaN(b) || a == b ? 0 : Math.abs(a - b);
            if (Double.isNaN(err)) err = Double.POSITIVE_INFINITY;
            double rel = err == 0 ? 0 : err / Math.abs(b);
            maxAbs = Math.max(maxAbs, err);
            maxRel = Math.max(maxRel, rel);
            if (err != 0 && !(err <= atol + rtol * Math.abs(b))) pass = false;
        }
        return new ParityCheck(name, maxAbs, maxRel, atol, rtol, pass);
    }

    public static ParityCheck compare(String name, double[] actual, Tensor expected, double atol, double rtol) {
        return compare(name, actual, doubles(expected), atol, rtol);
    }

    /** Compares two tensors; different shapes fail with infinite error. */
    public static ParityCheck compare(String name, Tensor actual, Tensor expected, double atol, double rtol) {
        if (!actual.sameShape(expected))
            return new ParityCheck(name + " (shape " + Arrays.toString(actual.shape()) + ", expected " + Arrays.toString(expected.shape()) + ")",
                    Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY, atol, rtol, false);
        return compare(name, doubles(actual), doubles(expected), atol, rtol);
    }

    /** All elements in row-major order as doubles, exactly (F64 and I64 included). */
    public static double[] doubles(Tensor t) {
        double[] out = new double[Math.toIntExact(t.numel())];
        for (int i = 0; i < out.length; i++) {
            out[i] = switch (t.dtype()) {
                case F64 -> t.segment().getAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, t.indexOfFlat(i));
                case I64, I32, I16, I8, U8, BOOL -> t.getLongFlat(i);
                default -> t.getFlat(i);
            };
        }
        return out;
    }

    public static ParityCheck compare(String name, float[] actual, Tensor expected, double atol, double rtol) {
        double[] a = new double[actual.length];
        for (int i = 0; i < a.length; i++) a[i] = actual[i];
        return compare(name, a, doubles(expected), atol, rtol);
    }

    /** The tolerance in words: "exact", "rel 1e-06" or "1e-04 + 1e-04*|b|". */
    public String tolerance() {
        if (atol == 0 && rtol == 0) return "exact";
        if (atol == 0) return String.format("rel %.0e", rtol);
        return String.format("%.0e + %.0e*|b|", atol, rtol);
    }

    @Override
    public String toString() {
        return String.format("%-44s max_abs %.3e  max_rel %.3e  tol %-16s %s", name, maxAbsErr, maxRelErr, tolerance(), pass ? "ok" : "FAIL");
    }
}
