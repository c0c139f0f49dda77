package dev.tornadodiffusion.tensor;

import dev.tornadodiffusion.tensor.Compare.Check;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.*;

class CompareTest {

    private static Tensor f64(double... v) { return Tensor.wrap(MemorySegment.ofArray(v.clone()), DType.F64, v.length); }

    @Test
    void readsFloat64AndInt64Exactly() {
        double a = 0.1, b = Math.nextUp(0.1);   // equal once rounded to float
        assertFalse(Compare.exact("f64", f64(a), f64(b)).pass());
        assertTrue(Compare.exact("f64", f64(a), f64(a)).pass());
        long big = (1L << 53) + 1;
        Check c = Compare.exact("i64", Tensor.ofLongs(new long[]{big}, 1), Tensor.ofLongs(new long[]{big - 1}, 1));
        assertFalse(c.pass());
        assertEquals(1, c.maxAbs());
    }

    @Test
    void rulesAreAbsoluteRelativeAndMixed() {
        Tensor expected = Tensor.of(new float[]{10, 0}, 2), actual = Tensor.of(new float[]{10.5f, 0.04f}, 2);
        assertTrue(Compare.absolute("a", actual, expected, 0.5).pass());
        assertFalse(Compare.absolute("a", actual, expected, 0.4).pass());
        assertTrue(Compare.relative("r", actual, expected, 0.05).pass());            // 0.5 <= 0.05 * 11, 0.04 <= 0.05 * 1
        assertFalse(Compare.relative("r", actual, expected, 0.04).pass());
        assertFalse(Compare.mixed("m", actual, expected, 0, 0.05).pass());           // 0.04 > 0.05 * 0
        assertTrue(Compare.mixed("m", actual, expected, 0.05, 0.05).pass());
        Check c = Compare.absolute("a", actual, expected, 1);
        assertEquals(0.5, c.maxAbs(), 1e-6);
        assertEquals(0.05, c.maxRel(), 1e-6);                                        // max|a-b| / max|b|
        assertEquals("exact", Compare.exact("e", expected, expected).tolerance());
        assertEquals("<=1e-04*(1+|b|)", Compare.relative("r", expected, expected, 1e-4).tolerance());
        assertEquals("<=1e-06*|b|", Compare.mixed("m", expected, expected, 0, 1e-6).tolerance());
    }

    @Test
    void nanMatchesOnlyNanAndInfinityOnlyItself() {
        float nan = Float.NaN, inf = Float.POSITIVE_INFINITY;
        assertTrue(Compare.exact("n", Tensor.of(new float[]{nan, inf, 1}, 3), Tensor.of(new float[]{nan, inf, 1}, 3)).pass());
        Check c = Compare.relative("n", Tensor.of(new float[]{nan, 1}, 2), Tensor.of(new float[]{1, 1}, 2), 1);
        assertFalse(c.pass());
        assertEquals(Double.POSITIVE_INFINITY, c.maxAbs());
        assertFalse(Compare.relative("i", Tensor.of(new float[]{1e30f}, 1), Tensor.of(new float[]{inf}, 1), 1).pass());
        assertFalse(Compare.relative("i", Tensor.of(new float[]{-inf}, 1), Tensor.of(new float[]{inf}, 1), 1).pass());
    }

    @Test
    void shapesMustAgree() {
        Check c = Compare.absolute("s", Tensor.zeros(2, 3), Tensor.zeros(3, 2), 1);
        assertFalse(c.pass());
        assertEquals("shape [2, 3] vs expected [3, 2]", c.problem());
        assertEquals("dtype F16, expected F32", Compare.exact("d", Tensor.zeros(1), Tensor.zeros(1)).failed("dtype F16, expected F32").problem());
    }
}
