package dev.tornadodiffusion.diffusion.schedulers;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tornadodiffusion.diffusion.NoiseSource;
import dev.tornadodiffusion.diffusion.ParityCheck;
import dev.tornadodiffusion.diffusion.TorchGenerator;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.StateDict;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
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

    /** Runs the case in {@code caseDir} against its trajectory tensors (read from {@code trajectory.safetensors}). */
    public static List<ParityCheck> run(Path caseDir, StateDict trajectory) throws IOException {
        SchedulerConfig config = SchedulerConfig.read(caseDir.resolve("config.json"));
        JsonNode meta = readJson(caseDir.resolve("meta.json"));
        List<ParityCheck> checks = new ArrayList<>();

        Scheduler first = Scheduler.fromConfig(config);
        checks.add(ParityCheck.compare("betas", first.betas(), trajectory.get("betas"), 0, SCALAR_RTOL));
        checks.add(ParityCheck.compare("alphas_cumprod", first.alphasCumprod(), trajectory.get("alphas_cumprod"), 0, SCALAR_RTOL));

        JsonNode seeds = required(meta, "seeds", caseDir);
        Tensor xInit = trajectory.get("x_init");
        int[] shape = xInit.shape();
        checks.add(ParityCheck.compare("x_init (regenerated)", new TorchGenerator(seed(seeds, "x_init", caseDir)).randn(shape), xInit, 0, 0));
        TorchGenerator modelOutputGenerator = new TorchGenerator(seed(seeds, "model_outputs", caseDir));

        for (Iterator<Map.Entry<String, JsonNode>> runs = required(meta, "runs", caseDir).fields(); runs.hasNext(); ) {
            Map.Entry<String, JsonNode> run = runs.next();
            String p = run.getKey() + "/";
            int steps = required(run.getValue(), "num_inference_steps", caseDir).intValue();
            int calls = required(run.getValue(), "step_calls", caseDir).intValue();

            Tensor fixtureOutputs = trajectory.get(p + "model_outputs");
            float[] drawn = new float[(int) fixtureOutputs.numel()];
            int per = (int) xInit.numel();
            for (int k = 0; k < calls; k++) System.arraycopy(modelOutputGenerator.randn(shape).array(), 0, drawn, k * per, per);
            checks.add(ParityCheck.compare(p + "model_outputs (regenerated)", drawn, fixtureOutputs, 0, 0));

            Scheduler s = Scheduler.fromConfig(config);
            s.setTimesteps(steps);
            Tensor expectedTimesteps = trajectory.get(p + "timesteps");
            String dtypeNote = s.timesteps().dtype() == expectedTimesteps.dtype() ? "" : " (dtype " + s.timesteps().dtype() + ", expected " + expectedTimesteps.dtype() + ")";
            ParityCheck ts = ParityCheck.compare(p + "timesteps" + dtypeNote, s.timesteps(), expectedTimesteps, 0, 0);
            checks.add(dtypeNote.isEmpty() ? ts : new ParityCheck(ts.name(), ts.maxAbsErr(), ts.maxRelErr(), 0, 0, false));
            if (trajectory.contains(p + "sigmas"))
                checks.add(ParityCheck.compare(p + "sigmas", s.sigmas().orElse(Tensor.zeros(0)), trajectory.get(p + "sigmas"), 0, SCALAR_RTOL));
            float initNoiseSigma = s.initNoiseSigma();
            checks.add(ParityCheck.compare(p + "init_noise_sigma", new float[]{initNoiseSigma}, trajectory.get(p + "init_noise_sigma"), 0, SCALAR_RTOL));

            float[] x = xInit.toFloatArray();
            for (int i = 0; i < x.length; i++) x[i] = x[i] * initNoiseSigma;
            checks.add(ParityCheck.compare(p + "sample_start", x, trajectory.get(p + "sample_start"), SAMPLE_TOL, SAMPLE_TOL));

            Trajectory out = replay(s, Tensor.of(x, shape), fixtureOutputs, new TorchGenerator(seed(seeds, "step_generator", caseDir)));
            checks.add(ParityCheck.compare(p + "scale_model_input_factor", out.scaleFactors, trajectory.get(p + "scale_model_input_factor"), 0, SCALAR_RTOL));
            checks.add(ParityCheck.compare(p + "model_inputs", out.modelInputs, trajectory.get(p + "model_inputs"), SAMPLE_TOL, SAMPLE_TOL));
            checks.add(ParityCheck.compare(p + "prev_samples", out.prevSamples, trajectory.get(p + "prev_samples"), SAMPLE_TOL, SAMPLE_TOL));
            for (String pred : new String[]{"pred_original_samples", "denoiseds"})
                if (trajectory.contains(p + pred))
                    checks.add(ParityCheck.compare(p + pred, out.predOriginals, trajectory.get(p + pred), SAMPLE_TOL, SAMPLE_TOL));
            if (trajectory.contains(p + "noises"))
                checks.add(ParityCheck.compare(p + "noises", out.noises, trajectory.get(p + "noises"), 0, 0));
            if (trajectory.contains(p + "noise_drawn"))
                checks.add(ParityCheck.compare(p + "noise_drawn", out.noiseDrawn, trajectory.get(p + "noise_drawn"), 0, 0));
        }
        return checks;
    }

    /** Everything one run produced, stacked over the step calls (noises are zero where none was drawn). */
    private record Trajectory(float[] scaleFactors, float[] modelInputs, float[] prevSamples, float[] predOriginals,
                              float[] noises, float[] noiseDrawn) {}

    private static Trajectory replay(Scheduler s, Tensor sample, Tensor modelOutputs, TorchGenerator generator) {
        int calls = s.numTimesteps(), per = (int) sample.numel();
        float[] factors = new float[calls], inputs = new float[calls * per], prevs = new float[calls * per];
        float[] preds = new float[calls * per], noises = new float[calls * per], drawnMask = new float[calls];
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
            sample = out.prevSample();
        }
        return new Trajectory(factors, inputs, prevs, preds, noises, drawnMask);
    }

    private static JsonNode readJson(Path file) throws IOException {
        try {
            return new ObjectMapper().readTree(Files.readString(file));
        } catch (NoSuchFileException e) {
            throw new IOException(file + ": not found");
        } catch (JsonProcessingException e) {
            throw new IOException(file + ": not valid JSON: " + e.getOriginalMessage());
        }
    }

    private static JsonNode required(JsonNode node, String key, Path caseDir) throws IOException {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) throw new IOException(caseDir.resolve("meta.json") + ": missing \"" + key + "\"");
        return v;
    }

    private static long seed(JsonNode seeds, String key, Path caseDir) throws IOException {
        JsonNode v = required(seeds, key, caseDir);
        if (!v.isIntegralNumber()) throw new IOException(caseDir.resolve("meta.json") + ": seeds." + key + " must be an integer");
        return v.longValue();
    }
}
