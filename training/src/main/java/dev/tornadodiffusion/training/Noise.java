package dev.tornadodiffusion.training;

import dev.tornadodiffusion.tensor.Tensor;

import java.util.SplittableRandom;

/** Random draws of a training step, all from the step's own {@link SplittableRandom}, so a run is repeatable. */
public final class Noise {
    private Noise() {}

    /** Standard normal values (Box-Muller). */
    public static Tensor randn(SplittableRandom r, int... shape) {
        float[] v = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < v.length; i += 2) {
            double u1 = 1 - r.nextDouble(), u2 = r.nextDouble(), rad = Math.sqrt(-2 * Math.log(u1));
            v[i] = (float) (rad * Math.cos(2 * Math.PI * u2));
            if (i + 1 < v.length) v[i + 1] = (float) (rad * Math.sin(2 * Math.PI * u2));
        }
        return Tensor.of(v, shape);
    }

    /** A Beta(1, b) draw by inversion: {@code 1 - (1 - u)^(1/b)}. */
    public static double beta1(SplittableRandom r, double b) {
        return 1 - Math.pow(1 - r.nextDouble(), 1 / b);
    }

    /** The batch's images stacked as [B, 3, H, W]. */
    public static Tensor stack(java.util.List<dev.tornadodiffusion.training.data.CaptionedImages.Example> batch) {
        Tensor first = batch.getFirst().image();
        int n = Math.toIntExact(first.numel());
        float[] v = new float[n * batch.size()];
        for (int i = 0; i < batch.size(); i++) System.arraycopy(batch.get(i).image().toFloatArray(), 0, v, i * n, n);
        int[] shape = new int[first.rank() + 1];
        shape[0] = batch.size();
        System.arraycopy(first.shape(), 0, shape, 1, first.rank());
        return Tensor.of(v, shape);
    }
}
