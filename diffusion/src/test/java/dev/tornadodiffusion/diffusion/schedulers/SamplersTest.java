package dev.tornadodiffusion.diffusion.schedulers;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class SamplersTest {
    /** SD 1.5's scheduler config (PNDM with Karras off), as a model folder has it. */
    private static final SchedulerConfig SD = SchedulerConfig.parse("""
            {"_class_name": "PNDMScheduler", "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
             "beta_schedule": "scaled_linear", "steps_offset": 1, "set_alpha_to_one": false, "skip_prk_steps": true}""", "sd15");

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "DPM++ 2M Karras      | DPMSolverMultistepScheduler     | DPM++ 2M Karras",
            "dpm++ 2m sde karras  | DPMSolverMultistepScheduler     | DPM++ 2M SDE Karras",
            "dpm++2m-sde-karras   | DPMSolverMultistepScheduler     | DPM++ 2M SDE Karras",
            "k_dpmpp_2m           | DPMSolverMultistepScheduler     | DPM++ 2M",
            "Euler a              | EulerAncestralDiscreteScheduler | Euler a",
            "euler-karras         | EulerDiscreteScheduler          | Euler Karras",
            "DPM2                 | KDPM2DiscreteScheduler          | DPM2",
            "DPM2 a Karras        | KDPM2AncestralDiscreteScheduler | DPM2 a Karras",
            "DEIS                 | DEISMultistepScheduler          | DEIS",
            "dpm++2s              | DPMSolverSinglestepScheduler    | DPM++ 2S",
            "TCD                  | TCDScheduler                    | TCD",
            "PLMS                 | PNDMScheduler                   | PLMS",
            "euler-trailing       | EulerDiscreteScheduler          | 'Euler, Timestep spacing: trailing'",
            "KDPM2DiscreteScheduler | KDPM2DiscreteScheduler        | DPM2"})
    void namesMapToTheSchedulerAndBackToTheA1111Name(String name, String className, String infotext) {
        Scheduler s = Samplers.create(name, SD);
        assertEquals(className, s.className());
        assertEquals(infotext, Samplers.infotext(s));
        // the model's training schedule is kept
        assertEquals(0.012, s.config().getDouble("beta_end", 0), 0);
    }

    @Test
    void karrasReallyChangesTheSigmas() {
        Scheduler plain = Samplers.create("DPM2", SD), karras = Samplers.create("DPM2 Karras", SD);
        plain.setTimesteps(10);
        karras.setTimesteps(10);
        assertNotEquals(plain.sigmas().orElseThrow().getFlat(1), karras.sigmas().orElseThrow().getFlat(1));
        assertEquals(plain.sigmas().orElseThrow().getFlat(0), karras.sigmas().orElseThrow().getFlat(0), 1e-4);
    }

    @Test
    void noSamplerKeepsTheModelsScheduler() {
        assertEquals("PNDMScheduler", Samplers.create(null, SD).className());
    }

    @Test
    void badNamesSayWhatIsKnown() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Samplers.create("DPM fast", SD));
        assertTrue(e.getMessage().contains("unknown sampler 'DPM fast'") && e.getMessage().contains("DPM++ 2M SDE"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Samplers.create("Euler a Karras", SD));
        assertTrue(e.getMessage().contains("has no Karras sigmas"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Samplers.create("dpm++2s-trailing", SD));
        assertTrue(e.getMessage().contains("no timestep_spacing"), e.getMessage());
    }
}
