package dev.tornadodiffusion.diffusion.schedulers;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tornadodiffusion.diffusion.TorchGenerator;
import dev.tornadodiffusion.tensor.Tensor;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A small denoising run to compare with one that diffusers 0.27.2 made on torch 1.13 (Debian's python3-torch, numpy
 * 1.24), with fake model outputs from seeded generators:
 * <pre>{@code
 * x = torch.randn((1, 4, 2, 2), generator=torch.Generator().manual_seed(0))
 * s = SchedulerClass.from_config(config); s.set_timesteps(n)
 * g = torch.Generator().manual_seed(1); sample = x * s.init_noise_sigma; sums = []
 * for t in s.timesteps:
 *     s.scale_model_input(sample, t)
 *     sample = s.step(torch.randn((1, 4, 2, 2), generator=g), t, sample).prev_sample
 *     sums.append(sample.double().sum().item())
 * }</pre>
 * The expected values are that run's timesteps, its final sample (float32) and the per-step sums.
 */
final class ReferenceRun {
    private ReferenceRun() {}

    /** {@code base} with the fields of {@code overrides} replaced or added, as {@code from_config(base, **overrides)}. */
    static SchedulerConfig config(String base, String overrides) {
        ObjectNode n = SchedulerConfig.parse(base, "test config").json();
        n.setAll(SchedulerConfig.parse(overrides, "test overrides").json());
        return SchedulerConfig.of(n, "test config");
    }

    /**
     * Runs the recipe and checks the schedule, the final sample (bit for bit) and, when {@code expectedSums} is not
     * null, the sum of every step's prev_sample.
     */
    static void check(Scheduler s, int steps, double[] expectedTimesteps, float[] expectedFinal, double[] expectedSums) {
        s.setTimesteps(steps);
        assertEquals(expectedTimesteps.length, s.numTimesteps(), "number of timesteps");
        for (int i = 0; i < expectedTimesteps.length; i++) assertEquals(expectedTimesteps[i], s.timestep(i), "timestep " + i);
        float[] x = new TorchGenerator(0).randn(1, 4, 2, 2).toFloatArray();
        float sigma = s.initNoiseSigma();
        for (int i = 0; i < x.length; i++) x[i] = x[i] * sigma;
        Tensor sample = Tensor.of(x, 1, 4, 2, 2);
        TorchGenerator g = new TorchGenerator(1);
        for (int i = 0; i < s.numTimesteps(); i++) {
            double t = s.timestep(i);
            s.scaleModelInput(sample, t);
            sample = s.step(g.randn(1, 4, 2, 2), t, sample, null).prevSample();
            if (expectedSums == null) continue;
            double sum = 0;
            for (float v : sample.toFloatArray()) sum += v;
            assertEquals(expectedSums[i], sum, 1e-10 * (1 + Math.abs(expectedSums[i])), "sum after step " + i);
        }
        assertArrayEquals(expectedFinal, sample.toFloatArray(), "final sample");
    }

    /** Integer timesteps as doubles. */
    static double[] ints(long... t) {
        double[] d = new double[t.length];
        for (int i = 0; i < t.length; i++) d[i] = t[i];
        return d;
    }

    /** float32 timesteps as doubles. */
    static double[] floats(float... t) {
        double[] d = new double[t.length];
        for (int i = 0; i < t.length; i++) d[i] = t[i];
        return d;
    }
}
