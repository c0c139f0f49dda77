package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.diffusion.TorchGenerator;
import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class SchedulerConfigTest {

    private static SchedulerConfig config(String json) {
        return SchedulerConfig.parse(json, "scheduler_config.json");
    }

    @Test
    void picksTheClassNamedInTheConfig(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("scheduler_config.json");
        Files.writeString(file, "{\"_class_name\": \"EulerAncestralDiscreteScheduler\", \"beta_schedule\": \"scaled_linear\"}");
        Scheduler s = Scheduler.fromConfig(file);
        assertInstanceOf(EulerAncestralDiscreteScheduler.class, s);
        assertEquals("EulerAncestralDiscreteScheduler", s.className());
        assertEquals(1000, s.betas().length);
    }

    @Test
    void anotherClassCanBeBuiltFromTheSameConfig() {
        SchedulerConfig c = config("{\"_class_name\": \"LMSDiscreteScheduler\", \"beta_schedule\": \"scaled_linear\"}");
        assertInstanceOf(DDIMScheduler.class, Scheduler.fromConfig("DDIMScheduler", c));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Scheduler.fromConfig(c));
        assertTrue(e.getMessage().contains("LMSDiscreteScheduler") && e.getMessage().contains("scheduler_config.json"), e.getMessage());
    }

    @Test
    void badValuesNameTheFileAndKey() {
        assertMessage("field 'num_train_timesteps' must be an integer", () -> Scheduler.fromConfig("DDIMScheduler", config("{\"num_train_timesteps\": \"many\"}")));
        assertMessage("field 'beta_schedule' must be one of", () -> Scheduler.fromConfig("DDIMScheduler", config("{\"beta_schedule\": \"sigmoid\"}")));
        assertMessage("field 'clip_sample' must be true or false", () -> Scheduler.fromConfig("DDPMScheduler", config("{\"clip_sample\": 1}")));
        assertMessage("field 'trained_betas' has 2 values", () -> Scheduler.fromConfig("DDPMScheduler", config("{\"trained_betas\": [0.1, 0.2]}")));
        assertMessage("field '_class_name' is missing", () -> Scheduler.fromConfig(config("{}")));
        assertMessage("bad JSON", () -> config("{\"beta_start\": "));
        assertMessage("expected a JSON object", () -> config("[1, 2]"));
    }

    private static void assertMessage(String part, org.junit.jupiter.api.function.Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(part) && e.getMessage().contains("scheduler_config.json"), e.getMessage());
    }

    @Test
    void missingFileIsAnIOException(@TempDir Path dir) {
        IOException e = assertThrows(IOException.class, () -> Scheduler.fromConfig(dir.resolve("nope.json")));
        assertTrue(e.getMessage().contains("nope.json"), e.getMessage());
    }

    @Test
    void pythonJsonInfinityIsAccepted() {
        Scheduler s = Scheduler.fromConfig("DPMSolverMultistepScheduler", config("{\"lambda_min_clipped\": -Infinity}"));
        s.setTimesteps(5);
        assertEquals(999, s.timestep(0));
    }

    @Test
    void unknownKeysAreIgnoredAndMissingOnesTakeTheClassDefault() {
        Scheduler s = Scheduler.fromConfig("HeunDiscreteScheduler", config("{\"some_future_option\": 3}"));
        float[] betas = s.betas();
        assertEquals(0.00085f, betas[0]); // Heun's own default beta_start, linear schedule
        assertEquals(0.012f, betas[999]);
    }

    @Test
    void steppingNeedsTimestepsAndStopsAtTheEnd() {
        Scheduler s = Scheduler.fromConfig("EulerDiscreteScheduler", config("{}"));
        Tensor zeros = Tensor.zeros(1, 4, 2, 2);
        assertThrows(IllegalStateException.class, () -> s.step(zeros, 999, zeros, null));
        s.setTimesteps(2);
        Tensor x = zeros;
        for (int i = 0; i < 2; i++) x = s.step(x, s.timestep(i), x, null).prevSample();
        Tensor last = x;
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> s.step(last, 0, last, null));
        assertTrue(e.getMessage().contains("setTimesteps"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> s.setTimesteps(0));
    }

    @Test
    void timestepsOutsideTheScheduleAreRejected() {
        Scheduler s = Scheduler.fromConfig("EulerDiscreteScheduler", config("{}"));
        s.setTimesteps(4);
        Tensor x = new TorchGenerator(0).randn(1, 4, 2, 2);
        assertThrows(IllegalArgumentException.class, () -> s.step(x, 500.5, x, null));
        Scheduler ddim = Scheduler.fromConfig("DDIMScheduler", config("{}"));
        ddim.setTimesteps(4);
        assertThrows(IllegalArgumentException.class, () -> ddim.step(x, 1000, x, null));
    }

    @Test
    void shapesMustAgree() {
        Scheduler s = Scheduler.fromConfig("DDIMScheduler", config("{}"));
        s.setTimesteps(4);
        assertThrows(IllegalArgumentException.class, () -> s.step(Tensor.zeros(1, 4, 2, 2), s.timestep(0), Tensor.zeros(1, 4, 2, 3), null));
    }
}
