package dev.tornadodiffusion.parity;

import dev.tornadodiffusion.diffusion.schedulers.Scheduler;
import dev.tornadodiffusion.diffusion.schedulers.SchedulerConfig;
import dev.tornadodiffusion.diffusion.schedulers.SchedulerOutput;
import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.diffusion.NoiseSource;
import dev.tornadodiffusion.diffusion.TorchGenerator;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Compare;
import dev.tornadodiffusion.tensor.Compare.Check;
import dev.tornadodiffusion.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Replays a {@code schedulers/<case>} fixture: builds the scheduler from the case's {@code config.json} and runs
 * the procedure of its {@code meta.json} for every step count, comparing with {@code trajectory.safetensors}:
 * <ol>
 * <li>x_init = randn(shape) from a generator seeded {@code seeds.x_init};</li>
 * <li>one generator seeded {@code seeds.model_outputs} draws the fake model output of every step call, its stream
 * running on from one step count to the next;</li>
 * <li>per step count: {@code set_timesteps(N)}, sample = x_init * init_noise_sigma, a fresh generator seeded
 * {@code seeds.step_generator} for the steps, and for each timestep t: {@code scale_model_input(ones(1), t)},
 * {@code scale_model_input(sample, t)}, {@code step(model_output, t, sample, generator)}, sample = prev_sample.</li>
 * </ol>
 * The run is free (each step consumes the previous Java result); drawn noise and regenerated inputs are checked
 * bit for bit. Tolerances are the fixture's: timesteps exact, schedules and scale factors rel 1e-6, samples
 * {@code |a-b| <= 1e-4 * (1 + |b|)}.
 */
public final class SchedulerParity {
    private static final double SCALAR_RTOL = 1e-6, SAMPLE_TOL = 1e-4;

    private SchedulerParity() {}

    /** Runs the case in {@code caseDir} against its {@code trajectory.safetensors}; every trajectory tensor is compared. */
    public static List<Check> run(Path caseDir, Backend unused) throws IOException {
        try (ParityCase c = ParityCase.outputsOnly(caseDir, "trajectory.safetensors")) {
            SchedulerConfig config = SchedulerConfig.read(caseDir.resolve("config.json"));

            Scheduler first = Scheduler.fromConfig(config);
            c.mixed("betas", values(first.betas(), c.expected("betas")), 0, SCALAR_RTOL);
            c.mixed("alphas_cumprod", values(first.alphasCumprod(), c.expected("alphas_cumprod")), 0, SCALAR_RTOL);

            Tensor xInit = c.expected("x_init");
            int[] shape = xInit.shape();
            c.exact("x_init", new TorchGenerator(c.integer("seeds", "x_init")).randn(shape));
            TorchGenerator modelOutputGenerator = new TorchGenerator(c.integer("seeds", "model_outputs"));

            for (Iterator<Map.Entry<String, JsonNode>> runs = c.meta.path("runs").fields(); runs.hasNext(); ) {
                String run = runs.next().getKey(), p = run + "/";
                int steps = (int) c.integer("runs", run, "num_inference_steps");
                int calls = (int) c.integer("runs", run, "step_calls");

                Tensor fixtureOutputs = c.expected(p + "model_outputs");
                float[] drawn = new float[(int) fixtureOutputs.numel()];
                int per = (int) xInit.numel();
                for (int k = 0; k < calls; k++) System.arraycopy(modelOutputGenerator.randn(shape).array(), 0, drawn, k * per, per);
                c.exact(p + "model_outputs", values(drawn, fixtureOutputs));

                Scheduler s = Scheduler.fromConfig(config);
                s.setTimesteps(steps);
                Tensor expectedTimesteps = c.expected(p + "timesteps");
                Check ts = Compare.exact(p + "timesteps", s.timesteps(), expectedTimesteps);
                c.add(s.timesteps().dtype() == expectedTimesteps.dtype() ? ts : ts.failed("dtype " + s.timesteps().dtype() + ", expected " + expectedTimesteps.dtype()));
                if (c.outputNames().contains(p + "sigmas"))
                    c.mixed(p + "sigmas", s.sigmas().orElse(Tensor.zeros(0)), 0, SCALAR_RTOL);
                float initNoiseSigma = s.initNoiseSigma();
                c.mixed(p + "init_noise_sigma", values(new float[]{initNoiseSigma}, c.expected(p + "init_noise_sigma")), 0, SCALAR_RTOL);

                float[] x = xInit.toFloatArray();
                for (int i = 0; i < x.length; i++) x[i] = x[i] * initNoiseSigma;
                c.relative(p + "sample_start", values(x, c.expected(p + "sample_start")), SAMPLE_TOL);

                Trajectory out = replay(s, Tensor.of(x, shape), fixtureOutputs, new TorchGenerator(c.integer("seeds", "step_generator")));
                c.mixed(p + "scale_model_input_factor", values(out.scaleFactors, c.expected(p + "scale_model_input_factor")), 0, SCALAR_RTOL);
                c.relative(p + "model_inputs", values(out.modelInputs, c.expected(p + "model_inputs")), SAMPLE_TOL);
                c.relative(p + "prev_samples", values(out.prevSamples, c.expected(p + "prev_samples")), SAMPLE_TOL);
                for (String pred : new String[]{"pred_original_samples", "denoiseds"})
                    if (c.outputNames().contains(p + pred))
                        c.relative(p + pred, values(out.predOriginals, c.expected(p + pred)), SAMPLE_TOL);
                if (c.outputNames().contains(p + "pred_noised_samples"))
                    c.relative(p + "pred_noised_samples", values(out.predNoiseds, c.expected(p + "pred_noised_samples")), SAMPLE_TOL);
                if (c.outputNames().contains(p + "noises"))
                    c.exact(p + "noises", values(out.noises, c.expected(p + "noises")));
                if (c.outputNames().contains(p + "noise_drawn"))
                    c.exact(p + "noise_drawn", values(out.noiseDrawn, c.expected(p + "noise_drawn")));
            }
            return c.checks();
        }
    }

    /** Values stacked over the step calls, shaped like the reference when there are as many (else flat, and the check fails on the shape). */
    private static Tensor values(float[] v, Tensor expected) {
        return v.length == expected.numel() ? Tensor.of(v, expected.shape()) : Tensor.of(v, v.length);
    }

    /** Everything one run produced, stacked over the step calls (noises are zero where none was drawn). */
    private record Trajectory(float[] scaleFactors, float[] modelInputs, float[] prevSamples, float[] predOriginals,
                              float[] predNoiseds, float[] noises, float[] noiseDrawn) {}

    private static Trajectory replay(Scheduler s, Tensor sample, Tensor modelOutputs, TorchGenerator generator) {
        int calls = s.numTimesteps(), per = (int) sample.numel();
        float[] factors = new float[calls], inputs = new float[calls * per], prevs = new float[calls * per];
        float[] preds = new float[calls * per], predNoiseds = new float[calls * per], noises = new float[calls * per], drawnMask = new float[calls];
        int available = modelOutputs.dim(0);
        for (int k = 0; k < calls && k < available; k++) {
            int step = k;
            NoiseSource recording = shape -> {
                Tensor noise = generator.randn(shape);
                System.arraycopy(noise.array(), 0, noises, step * per, per);
                drawnMask[step] = 1;
                return noise;
            };
            double t = s.timestep(k);
            factors[k] = s.scaleModelInput(Tensor.of(new float[]{1f}, 1), t).getFlat(0);
            System.arraycopy(s.scaleModelInput(sample, t).toFloatArray(), 0, inputs, k * per, per);
            SchedulerOutput out = s.step(modelOutputs.select(0, k).contiguous(), t, sample, recording);
            System.arraycopy(out.prevSample().toFloatArray(), 0, prevs, k * per, per);
            if (out.predOriginalSample() != null) System.arraycopy(out.predOriginalSample().toFloatArray(), 0, preds, k * per, per);
            if (out.predNoisedSample() != null) System.arraycopy(out.predNoisedSample().toFloatArray(), 0, predNoiseds, k * per, per);
            sample = out.prevSample();
        }
        return new Trajectory(factors, inputs, prevs, preds, predNoiseds, noises, drawnMask);
    }
}
