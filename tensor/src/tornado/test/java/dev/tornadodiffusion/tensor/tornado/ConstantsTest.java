package dev.tornadodiffusion.tensor.tornado;

import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

/** The host arrays of weights are shared by the plans that use the same weight, and dropped with the last. */
class ConstantsTest {
    @Test
    void plansOfOneWeightShareItsArrayUntilTheLastReleasesIt() {
        Constants constants = new Constants();
        Tensor w = Tensor.of(new float[]{1, 2, 3, 4, 5, 6}, 2, 3), other = Tensor.of(new float[]{7, 8}, 2);
        Leaf a = new Leaf(Ref.Storage.of(w), false), b = new Leaf(Ref.Storage.of(w), false), c = new Leaf(Ref.Storage.of(other), false);
        constants.acquire(a, w, false);
        constants.acquire(b, w, false);
        constants.acquire(c, other, false);
        assertSame(a.buffer, b.buffer, "one array for one weight");
        assertNotSame(a.buffer, c.buffer);
        assertEquals(6f, ((uk.ac.manchester.tornado.api.types.arrays.FloatArray) a.buffer).get(5));
        constants.release(a);
        Leaf d = new Leaf(Ref.Storage.of(w), false);
        constants.acquire(d, w, false);
        assertSame(b.buffer, d.buffer, "still held by b");
        constants.release(b);
        constants.release(d);
        Leaf e = new Leaf(Ref.Storage.of(w), false);
        constants.acquire(e, w, false);
        assertNotSame(b.buffer, e.buffer, "made anew after the last user released it");
    }
}
