package dev.tornadodiffusion.cli;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ParityCommandTest {

    /** What {@code ./diffuse parity ARGS} prints and returns. */
    static List<String> parity(int expectedExit, String... args) {
        PrintStream stdout = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (PrintStream out = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
            System.setOut(out);
            String[] argv = new String[args.length + 1];
            argv[0] = "parity";
            System.arraycopy(args, 0, argv, 1, args.length);
            assertEquals(expectedExit, Diffuse.run(argv), buf.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(stdout);
        }
        return buf.toString(StandardCharsets.UTF_8).lines().toList();
    }

    @Test
    void pickleHostileCasePasses() {
        List<String> lines = parity(0, InspectCommandTest.FIXTURES.resolve("pickle-hostile").toString());
        List<String> checks = lines.subList(0, lines.size() - 1);
        assertEquals(17 + 31, checks.size(), String.join("\n", lines));
        for (String line : checks) assertTrue(line.startsWith("pickle-hostile") && line.contains(" PASS"), line);
        assertTrue(checks.stream().anyMatch(l -> l.contains("os_system.ckpt refused") && l.contains("refused pickle global 'posix.system'")), String.join("\n", lines));
        assertEquals("parity: 48 passed, 0 failed", lines.getLast());
    }

    @Test
    void schedulerAndGeneratorCasesPass() {
        List<String> lines = parity(0, InspectCommandTest.FIXTURES.resolve("schedulers/ddim").toString(), InspectCommandTest.FIXTURES.resolve("torch-rng").toString());
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("schedulers/ddim") && l.contains("n4/prev_samples") && l.contains(" PASS")), String.join("\n", lines));
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("torch-rng") && l.contains("seed0/randn_2x4x64x64_sum_float64") && l.contains(" PASS")), String.join("\n", lines));
        assertTrue(lines.getLast().matches("parity: \\d+ passed, 0 failed"), lines.getLast());
    }
}
