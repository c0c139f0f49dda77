package dev.tornadodiffusion.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.tornadodiffusion.cli.GenerateCommandTest.TINY;
import static dev.tornadodiffusion.cli.GenerateCommandTest.diffuse;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * The campaign of the "Done when" of issue 11, CLI half (serve's half is ServeCampaignTest): huge and odd sizes,
 * NaN / infinite / negative numbers, unknown names, long and unicode prompts, unwritable outputs, each answered at
 * once with one line naming the problem, never an internal error, and the process's heap no bigger afterwards.
 */
class CliCampaignTest {
    @Test
    void badRequestsGetOneLineAndLittleMemory(@TempDir Path dir) throws Exception {
        Path readOnly = Files.writeString(dir.resolve("a-file"), "x");   // no folder can be made under a file, even by root
        String m = TINY.toString();
        String[][] cases = {
                {"generate", "--model", m, "--prompt", "x", "--width", "100000", "--height", "100000"},
                {"generate", "--model", m, "--prompt", "x", "--width", "4096", "--height", "4096", "--batch", "64", "--max-memory", "1g"},
                {"generate", "--model", m, "--prompt", "x", "--max-memory", "lots"},
                {"generate", "--model", m, "--prompt", "x", "--width", "-64"},
                {"generate", "--model", m, "--prompt", "x", "--width", "63"},
                {"generate", "--model", m, "--prompt", "x", "--guidance", "NaN"},
                {"generate", "--model", m, "--prompt", "x", "--guidance", "Infinity"},
                {"generate", "--model", m, "--prompt", "x", "--guidance-rescale", "-1"},
                {"generate", "--model", m, "--prompt", "x", "--steps", "-3"},
                {"generate", "--model", m, "--prompt", "x", "--steps", "1e9"},
                {"generate", "--model", m, "--prompt", "x", "--batch", "0"},
                {"generate", "--model", m, "--prompt", "x", "--sampler", "No Such Sampler"},
                {"generate", "--model", m, "--prompt", "x", "--clip-skip", "99"},
                {"generate", "--model", dir.resolve("none").toString(), "--prompt", "x"},
                {"generate", "--model", m, "--prompt", "x", "--out", readOnly.resolve("sub/x.png").toString()},
                {"generate", "--model", m, "--prompt", "x", "--no-such-option", "1"},
                {"serve", "--model", m, "--port", "-1"},
                {"serve", "--model", m, "--max-pixel-steps", "NaN"},
                {"bench", "unet", "--random", "sd99"},
                {"nosuchcommand"}};
        Runtime rt = Runtime.getRuntime();
        System.gc();
        long before = rt.totalMemory() - rt.freeMemory();
        assertTimeoutPreemptively(java.time.Duration.ofSeconds(60), () -> {
            for (String[] c : cases) {
                GenerateCommandTest.Run r = diffuse(c);
                String shown = String.join(" ", c);
                assertTrue(r.code() == 1 || r.code() == 2, shown + " -> " + r.code() + " " + r.err());
                String first = r.err().lines().findFirst().orElse("");
                assertTrue(first.startsWith("diffuse"), shown + " -> " + r.err());
                assertFalse(r.err().contains("internal error") || r.err().contains("Exception") || r.err().contains("\tat "), shown + " -> " + r.err());
                // one line of error; usage errors add the usage line after it
                assertTrue(r.err().lines().filter(l -> !l.startsWith("usage:") && !l.startsWith("  ") && !l.startsWith("commands:")).count() == 1, shown + " -> " + r.err());
            }
        });
        GenerateCommandTest.Run mem = diffuse(cases[1]);
        assertTrue(mem.err().contains("needs about") && mem.err().contains("over --max-memory of 1.00 GiB"), mem.err());
        System.gc();
        long after = rt.totalMemory() - rt.freeMemory();
        assertTrue(after - before < 64L << 20, "the heap kept " + ((after - before) >> 20) + " MiB after the refusals");
    }

    @Test
    void longUnicodePromptRunsAndMemoryStaysBounded(@TempDir Path dir) {
        String prompt = "\uD83E\uDD8A \u6771\u4EAC \u00e9t\u00e9 ".repeat(1500);
        GenerateCommandTest.Run r = diffuse("generate", "--model", TINY.toString(), "--prompt", prompt, "--steps", "1", "--width", "32",
                "--height", "32", "--out", dir.resolve("u.png").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.exists(dir.resolve("u.png")));
    }
}
