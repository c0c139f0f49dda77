package dev.tornadodiffusion.tensor;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

class TensorAsStridedTest {
    final MemorySegment sixFloats = MemorySegment.ofArray(new float[]{0, 1, 2, 3, 4, 5});

    @Test
    void viewsAStorageWithoutCopying() {
        Tensor transposed = Tensor.asStrided(sixFloats, DType.F32, new int[]{3, 2}, new long[]{1, 3}, 0);
        assertFalse(transposed.isContiguous());
        assertArrayEquals(new float[]{0, 3, 1, 4, 2, 5}, transposed.toFloatArray());
        assertArrayEquals(new float[]{4, 5}, Tensor.asStrided(sixFloats, DType.F32, new int[]{2}, new long[]{1}, 4).toFloatArray());
        assertArrayEquals(new float[]{5, 5, 5}, Tensor.asStrided(sixFloats, DType.F32, new int[]{3}, new long[]{0}, 5).toFloatArray());
        assertArrayEquals(new float[]{3}, Tensor.asStrided(sixFloats, DType.F32, new int[0], new long[0], 3).toFloatArray());
        assertArrayEquals(new float[0], Tensor.asStrided(sixFloats, DType.F32, new int[]{0, 3}, new long[]{3, 1}, 99).toFloatArray());
    }

    @Test
    void refusesViewsOutsideTheSegment() {
        assertThrows(IllegalArgumentException.class, () -> Tensor.asStrided(sixFloats, DType.F32, new int[]{4, 2}, new long[]{2, 1}, 0));
        assertThrows(IllegalArgumentException.class, () -> Tensor.asStrided(sixFloats, DType.F32, new int[]{2}, new long[]{1}, 5));
        assertThrows(IllegalArgumentException.class, () -> Tensor.asStrided(sixFloats, DType.F64, new int[]{4}, new long[]{1}, 0));
        assertThrows(IllegalArgumentException.class, () -> Tensor.asStrided(sixFloats, DType.F32, new int[]{2}, new long[]{-1}, 3));
        assertThrows(IllegalArgumentException.class, () -> Tensor.asStrided(sixFloats, DType.F32, new int[]{2}, new long[]{1, 1}, 0));
        assertThrows(IllegalArgumentException.class, () -> Tensor.asStrided(sixFloats, DType.F32, new int[]{3}, new long[]{Long.MAX_VALUE}, 0));
        assertThrows(IllegalArgumentException.class, () -> Tensor.asStrided(sixFloats, DType.F32, new int[0], new long[0], Long.MAX_VALUE));
    }
}
