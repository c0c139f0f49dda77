package dev.tornadodiffusion.examples;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BenchCommandTest {

    @Test
    void lastLineComparesWithThePeak() throws Exception {
        PrintStream saved = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int rc;
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            rc = new BenchCommand().run(new String[]{"gemm", "8", "5", "3", "--runs", "2", "--warmup", "1"});
        } finally {
            System.setOut(saved);
        }
        String[] lines = buf.toString(StandardCharsets.UTF_8).strip().split("\n");
        assertEquals(0, rc);
        assertTrue(lines[0].startsWith("gemm 8x5x3 (MxNxK) on cpu: best "), lines[0]);
        assertTrue(lines[lines.length - 1].matches("GFLOP/s=\\d+\\.\\d peak=\\d+\\.\\d \\(\\d+\\.\\d% of peak\\)"), lines[lines.length - 1]);
    }

    @Test
    void unknownBenchmarksAndBadSizesAreUsageErrors() {
        UsageException e = assertThrows(UsageException.class, () -> new BenchCommand().run(new String[]{"unet2"}));
        assertTrue(e.getMessage().contains("unknown benchmark 'unet2'") && e.getMessage().contains("gemm"), e.getMessage());
        assertThrows(UsageException.class, () -> new BenchCommand().run(new String[]{"gemm", "0"}));
        assertThrows(UsageException.class, () -> new BenchCommand().run(new String[]{"gemm", "2", "3"}));
        assertThrows(UsageException.class, () -> new BenchCommand().run(new String[]{"conv", "--groups", "3"}));
        assertThrows(UsageException.class, () -> new BenchCommand().run(new String[]{}));
    }
}
