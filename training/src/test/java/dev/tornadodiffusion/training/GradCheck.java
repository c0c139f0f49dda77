package dev.tornadodiffusion.training;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.Locale;
import java.util.SplittableRandom;

/**
 * gradcheck as PyTorch does it: the gradient of {@code L = sum(f(inputs) * R)} (R a fixed random tensor) from the
 * tape, with the ops on the CPU backend in float, against central finite differences of the same {@code f} on
 * {@link Float64Backend} in double, at the same (float-representable) inputs.
 */
final class GradCheck {
    private GradCheck() {}

    /** An op under test, applied through a backend to tensors of its differentiable inputs. */
    interface Fn { Tensor apply(Backend be, Tensor[] in); }

    static final double EPS = 1e-6;

    static Tensor uniform(SplittableRandom r, double lo, double hi, int... shape) {
        float[] a = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < a.length; i++) a[i] = (float) r.nextDouble(lo, hi);
        return Tensor.of(a, shape);
    }

    static Tensor random(SplittableRandom r, int... shape) { return uniform(r, -1, 1, shape); }

    /**
     * The largest difference between the analytic and numeric gradients over all inputs' elements, relative to the
     * largest numeric gradient element; prints it under {@code name}.
     */
    static double check(String name, Fn f, Tensor... inputs) {
        // analytic: float ops on the tape
        Tape tape = Tape.cpu();
        Tensor[] tracked = new Tensor[inputs.length];
        for (int i = 0; i < inputs.length; i++) tracked[i] = tape.track(inputs[i].contiguousF32().contiguous());
        Tensor y = f.apply(tape, tracked);
        Tensor weights = random(new SplittableRandom(99), y.shape());
        tape.backward(tape.sum(tape.mul(y, weights)));
        double[] rw = weights.toDoubleArray();

        // numeric: central differences in double
        Float64Backend ref = new Float64Backend();
        double[][] x = new double[inputs.length][];
        for (int i = 0; i < inputs.length; i++) x[i] = inputs[i].toDoubleArray();
        double maxDiff = 0, maxNum = 0;
        for (int i = 0; i < inputs.length; i++) {
            double[] analytic = tape.grad(tracked[i]).toDoubleArray();
            for (int j = 0; j < x[i].length; j++) {
                double keep = x[i][j];
                x[i][j] = keep + EPS;
                double up = loss(ref, f, x, inputs, rw);
                x[i][j] = keep - EPS;
                double down = loss(ref, f, x, inputs, rw);
                x[i][j] = keep;
                double numeric = (up - down) / (2 * EPS);
                maxDiff = Math.max(maxDiff, Math.abs(numeric - analytic[j]));
                maxNum = Math.max(maxNum, Math.abs(numeric));
            }
        }
        double rel = maxDiff / Math.max(maxNum, 1e-30);
        System.out.printf(Locale.ROOT, "gradcheck %-34s max |analytic - numeric| / max |numeric| = %.2e  (max |numeric| %.3g)%n", name, rel, maxNum);
        return rel;
    }

    static double loss(Float64Backend ref, Fn f, double[][] x, Tensor[] inputs, double[] weights) {
        Tensor[] in = new Tensor[x.length];
        for (int i = 0; i < x.length; i++) in[i] = Float64Backend.f64(x[i].clone(), inputs[i].shape());
        double[] y = f.apply(ref, in).toDoubleArray();
        double s = 0;
        for (int i = 0; i < y.length; i++) s += y[i] * weights[i];
        return s;
    }
}
