package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.diffusion.FixtureFile;
import dev.tornadodiffusion.diffusion.ParityCheck;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

class SchedulerParityTest {

    static Stream<String> cases() throws IOException {
        try (Stream<Path> dirs = Files.list(FixtureFile.fixtures().resolve("schedulers"))) {
            return dirs.filter(Files::isDirectory).map(d -> d.getFileName().toString()).sorted().toList().stream();
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void replaysTrajectory(String name) throws IOException {
        Path dir = FixtureFile.fixtures().resolve("schedulers").resolve(name);
        try (FixtureFile trajectory = FixtureFile.open(dir.resolve("trajectory.safetensors"))) {
            List<ParityCheck> checks = SchedulerParity.run(dir, trajectory);
            assertTrue(checks.size() > 10, "too few checks: " + checks);
            for (ParityCheck c : checks) assertTrue(c.pass(), name + ": " + c);
        }
    }
}
