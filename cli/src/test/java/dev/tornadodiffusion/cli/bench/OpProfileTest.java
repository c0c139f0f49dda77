package dev.tornadodiffusion.cli.bench;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OpProfileTest {

    private static List<String> printed(OpProfile p, int runs) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (PrintStream out = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
            p.print(out, runs);
        }
        return buf.toString(StandardCharsets.UTF_8).lines().toList();
    }

    private static String row(List<String> lines, String op) {
        return lines.stream().filter(l -> l.trim().startsWith(op + " ")).findFirst().orElseThrow(() -> new AssertionError(op + " not in " + lines));
    }

    @Test
    void countsCallsAndFlopsPerRunAndPassesResultsThrough() {
        OpProfile p = new OpProfile(Backends.cpu());
        Backend be = p.backend();
        Tensor x = BenchData.random(1, 1, 64, 32, 32), w = BenchData.random(2, 64, 64, 3, 3);
        Tensor a = BenchData.random(3, 200, 300), b = BenchData.random(4, 300, 100);
        be.silu(x);   // before the reset: not counted
        p.reset();
        for (int run = 0; run < 2; run++) {
            be.conv2d(x, w, null, 1, 1, 1);
            be.matmul(a, b);
            be.matmul(a, b);
        }
        assertArrayEquals(Backends.cpu().matmul(a, b).toFloatArray(), be.matmul(a, b).toFloatArray());
        assertEquals("cpu", be.name());

        List<String> lines = printed(p, 2);
        // conv: 2 * (64 * 32 * 32 outputs) * (64 * 3 * 3) = 0.075 GFLOP per run; matmul: 2 * 200 * 100 * 300 = 0.012 each
        String[] conv = row(lines, "conv2d").trim().split("\\s+"), mm = row(lines, "matmul").trim().split("\\s+");
        assertEquals("1", conv[1]);
        assertEquals("0.08", conv[4]);
        assertEquals("2", mm[1]);   // 5 calls over 2 runs, rounded down
        assertEquals("0.03", mm[4]);
        assertTrue(lines.stream().noneMatch(l -> l.trim().startsWith("silu")), String.join("\n", lines));
        assertTrue(lines.stream().anyMatch(l -> l.contains("conv2d [1, 64, 32, 32] [64, 64, 3, 3] null 1 1 1")), String.join("\n", lines));
    }

    @Test
    void aWholeForwardThroughRunCountsOnlyItsOperations() {
        OpProfile p = new OpProfile(Backends.cpu());
        Backend be = p.backend();
        Tensor a = BenchData.random(3, 20, 30), b = BenchData.random(4, 30, 10);
        p.reset();
        be.run(this, in -> be.matmul(in[0], in[1]), a, b);
        List<String> lines = printed(p, 1);
        assertEquals("1", row(lines, "matmul").trim().split("\\s+")[1]);
        assertTrue(lines.stream().noneMatch(l -> l.trim().startsWith("run")), String.join("\n", lines));
    }

    @Test
    void exceptionsFromTheBackendPassThroughUnwrapped() {
        Backend be = new OpProfile(Backends.cpu()).backend();
        assertThrows(IllegalArgumentException.class, () -> be.matmul(Tensor.zeros(2, 3), Tensor.zeros(4, 5)));
    }
}
