package dev.tornadodiffusion.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TrainCommandTest {
    @TempDir Path dir;

    @Test
    void stopAtEndsTheRunAtThatStepWithACheckpointAndRefusesStepsOutsideTheSchedule() throws Exception {
        String out = dir.resolve("vae").toString();
        assertEquals(2, Diffuse.run(new String[]{"train", "vae", "--out", out, "--steps", "4", "--stop-at", "5"}));
        assertEquals(2, Diffuse.run(new String[]{"train", "vae", "--out", out, "--steps", "4", "--stop-at", "0"}));
        assertEquals(0, Diffuse.run(new String[]{"train", "vae", "--out", out, "--steps", "4", "--stop-at", "2", "--batch", "1", "--crop", "16",
                "--log-every", "1", "--sample-every", "0"}));
        String state = Files.readString(dir.resolve("vae/checkpoint/trainer_state.json"));
        assertTrue(state.matches("(?s).*\"step\"\\s*:\\s*2,.*"), state);
        assertTrue(state.contains("steps=4"), state);
    }
}
