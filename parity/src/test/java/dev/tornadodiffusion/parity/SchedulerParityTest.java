package dev.tornadodiffusion.parity;

import dev.tornadodiffusion.tensor.Compare.Check;
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
        try (Stream<Path> dirs = Files.list(Fixtures.path("schedulers"))) {
            return dirs.filter(Files::isDirectory).map(d -> d.getFileName().toString()).sorted().toList().stream();
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void replaysTrajectory(String name) throws IOException {
        List<Check> checks = SchedulerParity.run(Fixtures.path("schedulers").resolve(name), null);
        assertTrue(checks.size() > 10, "too few checks: " + checks);
        for (Check c : checks) assertTrue(c.pass(), name + ": " + c);
    }
}
