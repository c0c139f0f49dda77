package dev.tornadodiffusion.diffusion.schedulers;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.tornadodiffusion.diffusion.schedulers.ReferenceRun.config;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The scheduler_config.json files of common public models, loaded as {@code ./diffuse} loads a model folder: the class
 * they name, or the one a sampler option or a model card asks for ({@code X.from_config(config, **overrides)}). The
 * expected schedules (count, first timesteps, init_noise_sigma) are what diffusers 0.27.2 computes for the same
 * config.
 */
class RealSchedulerConfigsTest {
    /** A PNDM config as the SD 2.x base (512px, epsilon) models ship it, prediction_type spelled out. */
    static final String SD21_BASE = """
            {
              "_class_name": "PNDMScheduler",
              "_diffusers_version": "0.8.0",
              "beta_end": 0.012,
              "beta_schedule": "scaled_linear",
              "beta_start": 0.00085,
              "clip_sample": false,
              "num_train_timesteps": 1000,
              "prediction_type": "epsilon",
              "set_alpha_to_one": false,
              "skip_prk_steps": true,
              "steps_offset": 1,
              "trained_betas": null
            }""";

    /** stabilityai/stable-diffusion-2-1 scheduler/scheduler_config.json. */
    static final String SD21 = """
            {
              "_class_name": "DDIMScheduler",
              "_diffusers_version": "0.8.0",
              "beta_end": 0.012,
              "beta_schedule": "scaled_linear",
              "beta_start": 0.00085,
              "clip_sample": false,
              "num_train_timesteps": 1000,
              "prediction_type": "v_prediction",
              "set_alpha_to_one": false,
              "skip_prk_steps": true,
              "steps_offset": 1,
              "trained_betas": null
            }""";

    /** stabilityai/stable-diffusion-xl-base-1.0 scheduler/scheduler_config.json. */
    static final String SDXL = """
            {
              "_class_name": "EulerDiscreteScheduler",
              "_diffusers_version": "0.19.0.dev0",
              "beta_end": 0.012,
              "beta_schedule": "scaled_linear",
              "beta_start": 0.00085,
              "clip_sample": false,
              "interpolation_type": "linear",
              "num_train_timesteps": 1000,
              "prediction_type": "epsilon",
              "sample_max_value": 1.0,
              "set_alpha_to_one": false,
              "skip_prk_steps": true,
              "steps_offset": 1,
              "timestep_spacing": "leading",
              "trained_betas": null,
              "use_karras_sigmas": false
            }""";

    /** stabilityai/sdxl-turbo scheduler/scheduler_config.json. */
    static final String SDXL_TURBO = """
            {
              "_class_name": "EulerAncestralDiscreteScheduler",
              "_diffusers_version": "0.24.0.dev0",
              "beta_end": 0.012,
              "beta_schedule": "scaled_linear",
              "beta_start": 0.00085,
              "clip_sample": false,
              "interpolation_type": "linear",
              "num_train_timesteps": 1000,
              "prediction_type": "epsilon",
              "sample_max_value": 1.0,
              "set_alpha_to_one": false,
              "skip_prk_steps": true,
              "steps_offset": 1,
              "timestep_spacing": "trailing",
              "trained_betas": null
            }""";

    /** An SDXL EulerDiscreteScheduler config as diffusers 0.27.2 saves it (every field of the class written out). */
    static final String EULER_0272 = """
            {
              "_class_name": "EulerDiscreteScheduler",
              "_diffusers_version": "0.27.2",
              "beta_end": 0.012,
              "beta_schedule": "scaled_linear",
              "beta_start": 0.00085,
              "interpolation_type": "linear",
              "num_train_timesteps": 1000,
              "prediction_type": "epsilon",
              "rescale_betas_zero_snr": false,
              "sample_max_value": 1.0,
              "set_alpha_to_one": false,
              "sigma_max": null,
              "sigma_min": null,
              "skip_prk_steps": true,
              "steps_offset": 1,
              "timestep_spacing": "leading",
              "timestep_type": "discrete",
              "trained_betas": null,
              "use_karras_sigmas": false
            }""";

    /**
     * An LCMScheduler config saved by diffusers 0.24 after {@code LCMScheduler.from_config(sdxl_scheduler.config)} (the
     * LCM-LoRA SDXL recipe): it carries SDXL fields LCM does not know.
     */
    static final String LCM = """
            {
              "_class_name": "LCMScheduler",
              "_diffusers_version": "0.24.0",
              "beta_end": 0.012,
              "beta_schedule": "scaled_linear",
              "beta_start": 0.00085,
              "clip_sample": false,
              "clip_sample_range": 1.0,
              "dynamic_thresholding_ratio": 0.995,
              "interpolation_type": "linear",
              "num_train_timesteps": 1000,
              "original_inference_steps": 50,
              "prediction_type": "epsilon",
              "rescale_betas_zero_snr": false,
              "sample_max_value": 1.0,
              "set_alpha_to_one": false,
              "skip_prk_steps": true,
              "steps_offset": 1,
              "thresholding": false,
              "timestep_scaling": 10.0,
              "timestep_spacing": "leading",
              "trained_betas": null,
              "use_karras_sigmas": false
            }""";

    /** PixArt-alpha's DPM-Solver++ scheduler config, with Python's {@code -Infinity}. */
    static final String PIXART = """
            {
              "_class_name": "DPMSolverMultistepScheduler",
              "_diffusers_version": "0.22.0.dev0",
              "algorithm_type": "dpmsolver++",
              "beta_end": 0.02,
              "beta_schedule": "linear",
              "beta_start": 0.0001,
              "dynamic_thresholding_ratio": 0.995,
              "euler_at_final": false,
              "lambda_min_clipped": -Infinity,
              "lower_order_final": true,
              "num_train_timesteps": 1000,
              "prediction_type": "epsilon",
              "sample_max_value": 1.0,
              "solver_order": 2,
              "solver_type": "midpoint",
              "steps_offset": 0,
              "thresholding": false,
              "timestep_spacing": "linspace",
              "trained_betas": null,
              "use_karras_sigmas": false,
              "use_lu_lambdas": false,
              "variance_type": null
            }""";

    @TempDir
    Path dir;

    /** The config written to a scheduler_config.json file and loaded by its {@code _class_name}. */
    private Scheduler load(String json) throws IOException {
        Path file = dir.resolve("scheduler_config.json");
        Files.writeString(file, json);
        return Scheduler.fromConfig(file);
    }

    private static void assertSchedule(Scheduler s, int steps, int count, float initNoiseSigma, double... first) {
        s.setTimesteps(steps);
        assertEquals(count, s.numTimesteps(), s.className() + " " + steps + " steps");
        for (int i = 0; i < first.length; i++) assertEquals(first[i], s.timestep(i), s.className() + " timestep " + i);
        assertEquals(initNoiseSigma, s.initNoiseSigma());
    }

    @Test
    void stableDiffusion15() throws IOException {
        Scheduler s = load(PNDMSchedulerTest.SD15);
        assertEquals("PNDMScheduler", s.className());
        assertSchedule(s, 50, 51, 1f, 981, 961, 961, 941, 921, 901);
        assertSchedule(s, 20, 21, 1f, 951, 901, 901, 851, 801, 751);
    }

    /**
     * {@code --sampler euler / dpm++2m-karras}, and the LCM-LoRA recipe
     * {@code LCMScheduler.from_config(pipe.scheduler.config)}.
     */
    @Test
    void otherSchedulersFromTheStableDiffusion15Config() {
        SchedulerConfig sd15 = config(PNDMSchedulerTest.SD15, "{}");
        assertSchedule(Scheduler.fromConfig("EulerDiscreteScheduler", sd15), 20, 20, 14.614645f,
                999, 946.4211f, 893.8421f, 841.2632f, 788.6842f, 736.1053f);
        SchedulerConfig karras = config(PNDMSchedulerTest.SD15, "{\"use_karras_sigmas\": true}");
        assertSchedule(Scheduler.fromConfig("DPMSolverMultistepScheduler", karras), 20, 20, 1f, 999, 962, 921, 876, 827, 772);
        assertSchedule(Scheduler.fromConfig("LCMScheduler", sd15), 4, 4, 1f, 999, 759, 499, 259);
    }

    @Test
    void stableDiffusion2() throws IOException {
        Scheduler base = load(SD21_BASE);
        assertInstanceOf(PNDMScheduler.class, base);
        assertSchedule(base, 25, 26, 1f, 961, 921, 921, 881, 841, 801);
        Scheduler v = load(SD21);
        assertInstanceOf(DDIMScheduler.class, v);
        assertSchedule(v, 50, 50, 1f, 981, 961, 941, 921, 901, 881);
    }

    @Test
    void stableDiffusionXl() throws IOException {
        Scheduler s = load(SDXL);
        assertInstanceOf(EulerDiscreteScheduler.class, s);
        assertSchedule(s, 30, 30, 11.520333f, 958, 925, 892, 859, 826, 793);
        assertSchedule(load(EULER_0272), 25, 25, 11.718795f, 961, 921, 881, 841, 801, 761);
    }

    /**
     * SDXL-Lightning's model card:
     * {@code EulerDiscreteScheduler.from_config(pipe.scheduler.config, timestep_spacing="trailing")}.
     */
    @Test
    void sdxlLightning() {
        Scheduler s = Scheduler.fromConfig("EulerDiscreteScheduler", config(SDXL, "{\"timestep_spacing\": \"trailing\"}"));
        assertSchedule(s, 4, 4, 14.614645f, 999, 749, 499, 249);
        assertSchedule(s, 8, 8, 14.614645f, 999, 874, 749, 624, 499, 374);
    }

    @Test
    void sdxlTurbo() throws IOException {
        Scheduler s = load(SDXL_TURBO);
        assertInstanceOf(EulerAncestralDiscreteScheduler.class, s);
        assertSchedule(s, 1, 1, 14.614645f, 999);
        assertSchedule(s, 4, 4, 14.614645f, 999, 749, 499, 249);
    }

    @Test
    void latentConsistency() throws IOException {
        Scheduler s = load(LCM);
        assertInstanceOf(LCMScheduler.class, s);
        assertSchedule(s, 4, 4, 1f, 999, 759, 499, 259);
        assertSchedule(s, 8, 8, 1f, 999, 879, 759, 639, 499, 379);
    }

    @Test
    void dpmSolverWithInfinity() throws IOException {
        Scheduler s = load(PIXART);
        assertInstanceOf(DPMSolverMultistepScheduler.class, s);
        assertSchedule(s, 20, 20, 1f, 999, 949, 899, 849, 799, 749);
    }

    /** Fields of later diffusers versions (which 0.27.2 ignores when they are unknown to the class) change nothing. */
    @Test
    void fieldsTheClassDoesNotKnowAreIgnored() throws IOException {
        String later = SDXL.replace("\"use_karras_sigmas\": false", """
                "use_karras_sigmas": false,
                  "_use_default_values": ["final_sigmas_type", "use_beta_sigmas"],
                  "final_sigmas_type": "zero",
                  "use_beta_sigmas": false,
                  "use_exponential_sigmas": false""");
        assertNotEquals(SDXL, later);
        assertSchedule(load(later), 30, 30, 11.520333f, 958, 925, 892, 859, 826, 793);
    }

    /** Values a class does not support fail on loading with one line naming the file and the field. */
    @Test
    void unsupportedValuesNameTheField() {
        String sd15 = PNDMSchedulerTest.SD15;
        assertRejected("prediction_type", sd15, "\"clip_sample\": false", "\"prediction_type\": \"sample\"");
        assertRejected("skip_prk_steps", sd15, "\"skip_prk_steps\": true", "\"skip_prk_steps\": \"yes\"");
        assertRejected("interpolation_type", SDXL, "\"interpolation_type\": \"linear\"", "\"interpolation_type\": \"cubic\"");
        assertRejected("timestep_spacing", SDXL_TURBO, "\"trailing\"", "\"karras\"");
        assertRejected("timestep_type", EULER_0272, "\"discrete\"", "\"discrete_v\"");
        assertRejected("use_karras_sigmas", SDXL, "\"use_karras_sigmas\": false", "\"use_karras_sigmas\": 1");
        assertRejected("algorithm_type", PIXART, "\"dpmsolver++\"", "\"dpmsolver3\"");
        // DeepFloyd IF's DDPM predicts its variance: not supported
        assertRejected("variance_type", "{\"_class_name\": \"DDPMScheduler\"}", "}", ", \"variance_type\": \"learned_range\"}");
    }

    private void assertRejected(String field, String json, String from, String to) {
        String bad = json.replace(from, to);
        assertNotEquals(json, bad, "the edit must apply");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> load(bad));
        String m = e.getMessage();
        assertTrue(m.contains(dir.resolve("scheduler_config.json").toString()) && m.contains("'" + field + "'") && !m.contains("\n"), m);
    }
}
