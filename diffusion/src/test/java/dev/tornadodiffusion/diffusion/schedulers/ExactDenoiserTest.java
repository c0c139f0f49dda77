package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.diffusion.TorchGenerator;
import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Configurations the trajectory fixtures do not cover (orders 1-3, Karras sigmas, Heun / DPM-Solver variants, odd
 * step counts), driven by the exact noise prediction of a single clean sample x0: every one of these solvers is
 * exact for it (its x0 estimate is constant), so a run from pure noise must end at x0, up to float error and the
 * final sigma the schedule stops at.
 */
class ExactDenoiserTest {
    private static final String SD = """
            {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
             "steps_offset": 1, "set_alpha_to_one": false, "clip_sample": false %s}""";

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "DEISMultistepScheduler          | 10 | false | ",
            "DEISMultistepScheduler          | 9  | false | , \"solver_order\": 3",
            "DEISMultistepScheduler          | 16 | false | , \"solver_order\": 3, \"use_karras_sigmas\": true",
            "DEISMultistepScheduler          | 5  | false | , \"solver_order\": 1, \"timestep_spacing\": \"trailing\"",
            "DPMSolverSinglestepScheduler    | 10 | false | ",
            "DPMSolverSinglestepScheduler    | 9  | false | , \"solver_order\": 3",
            "DPMSolverSinglestepScheduler    | 12 | false | , \"solver_order\": 3, \"solver_type\": \"heun\", \"use_karras_sigmas\": true",
            "DPMSolverSinglestepScheduler    | 8  | false | , \"algorithm_type\": \"dpmsolver\", \"final_sigmas_type\": \"sigma_min\"",
            "DPMSolverSinglestepScheduler    | 7  | false | , \"algorithm_type\": \"dpmsolver\", \"solver_type\": \"heun\", \"final_sigmas_type\": \"sigma_min\", \"solver_order\": 3",
            "KDPM2DiscreteScheduler          | 10 | true  | ",
            "KDPM2DiscreteScheduler          | 7  | true  | , \"use_karras_sigmas\": true",
            "KDPM2DiscreteScheduler          | 6  | true  | , \"timestep_spacing\": \"leading\"",
            "TCDScheduler                    | 4  | false | "})
    void runsFromNoiseToTheCleanSample(String className, int steps, boolean sigmaSpace, String extra) {
        Scheduler s = Scheduler.fromConfig(className, SchedulerConfig.parse(SD.formatted(extra == null ? "" : extra), "test config"));
        if (s instanceof TCDScheduler tcd) tcd.setEta(0);
        s.setTimesteps(steps);
        int[] shape = {1, 4, 4, 4};
        float[] x0 = new TorchGenerator(1).randn(shape).toFloatArray();
        for (int i = 0; i < x0.length; i++) x0[i] *= 0.5f;
        Tensor sample = new TorchGenerator(2).randn(shape);
        float init = s.initNoiseSigma();
        float[] start = sample.toFloatArray();
        for (int i = 0; i < start.length; i++) start[i] *= init;
        sample = Tensor.of(start, shape);
        float[] sigmas = s.sigmas().map(Tensor::toFloatArray).orElse(null);
        float[] acp = s.alphasCumprod();
        TorchGenerator gen = new TorchGenerator(3);
        for (int k = 0; k < s.numTimesteps(); k++) {
            double t = s.timestep(k);
            float f = s.scaleModelInput(Tensor.of(new float[]{1f}, 1), t).getFlat(0);
            float[] in = s.scaleModelInput(sample, t).toFloatArray(), eps = new float[in.length];
            if (sigmaSpace) {
                float sigma = (float) Math.sqrt(1 / ((double) f * f) - 1);
                for (int i = 0; i < in.length; i++) eps[i] = (in[i] / f - x0[i]) / sigma;
            } else {
                // the noise level the solver holds for this call: its sigma, or (TCD) the training schedule at t
                double alpha, sigmaT;
                if (sigmas != null) {
                    double sg = sigmas[k];
                    alpha = 1 / Math.sqrt(sg * sg + 1);
                    sigmaT = sg * alpha;
                } else {
                    alpha = Math.sqrt(acp[(int) t]);
                    sigmaT = Math.sqrt(1 - acp[(int) t]);
                }
                for (int i = 0; i < in.length; i++) eps[i] = (float) ((in[i] - alpha * x0[i]) / sigmaT);
            }
            sample = s.step(Tensor.of(eps, shape), t, sample, gen).prevSample();
        }
        float[] end = sample.toFloatArray();
        double worst = 0;
        for (int i = 0; i < end.length; i++) worst = Math.max(worst, Math.abs(end[i] - x0[i]));
        // final_sigmas_type sigma_min (DEIS, dpmsolver) stops at sigma ~0.03; TCD's last step at t = 0; the rest at 0
        assertTrue(worst < 0.15, className + " " + extra + ": max |x - x0| = " + worst);
        assertTrue(worst < 1e-3 || className.startsWith("DEIS") || extra != null && extra.contains("sigma_min") || className.startsWith("TCD"),
                className + " " + extra + " should end exactly at x0: " + worst);
    }
}
