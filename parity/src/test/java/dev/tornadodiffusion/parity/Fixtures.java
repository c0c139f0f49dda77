package dev.tornadodiffusion.parity;

import java.nio.file.Path;

/** The reference cases in the fixtures folder surefire passes in {@code fixtures.dir}. */
final class Fixtures {
    private Fixtures() {}

    static Path path(String relative) {
        return Path.of(System.getProperty("fixtures.dir", "../../shared/fixtures")).resolve(relative);
    }
}
