package dev.tornadodiffusion.weights;

import dev.tornadodiffusion.tensor.Tensor;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The reference cases in the fixtures folder surefire passes in {@code fixtures.dir}, and a bitwise tensor comparison. */
public final class Fixtures {
    private Fixtures() { }

    public static Path path(String relative) {
        return Path.of(System.getProperty("fixtures.dir", "../../shared/fixtures")).resolve(relative);
    }

    /** Same shape and bitwise the same values (integers compared exactly, floats by their F32 widening). */
    public static void assertSameTensor(String key, Tensor expected, Tensor actual) {
        assertArrayEquals(expected.shape(), actual.shape(), key + " shape");
        for (long i = 0; i < expected.numel(); i++) {
            if (expected.dtype().floating)
                assertEquals(Float.floatToRawIntBits(expected.getFlat(i)), Float.floatToRawIntBits(actual.getFlat(i)), key + " element " + i);
            else
                assertEquals(expected.getLongFlat(i), actual.getLongFlat(i), key + " element " + i);
        }
    }
}
