package dev.tornadodiffusion.tensor.tornado;

import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.api.types.arrays.ShortArray;
import uk.ac.manchester.tornado.api.types.arrays.TornadoNativeArray;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Host data a recorded plan reads: a constant (a weight: uploaded once, on the first execution) or per-call data
 * (an input, or a small tensor the model makes on every call: copied in before every execution). On the device
 * it is F32, or raw 16-bit words for F16/BF16 GEMM weights (widened in the kernels: no copy doubles them), or a
 * HalfFloatArray for a 16-bit weight on a device with fp16 (an F16 weight as stored, an F32 one rounded to fp16).
 */
final class Leaf {
    final Ref.Storage storage;
    final boolean raw16;
    boolean perCall;
    TornadoNativeArray buffer;

    Leaf(Ref.Storage storage, boolean raw16) {
        this.storage = storage;
        this.raw16 = raw16;
    }

    int length() { return Math.toIntExact(storage.length()); }

    Recording.LeafKey key() { return new Recording.LeafKey(storage, raw16); }

    /** Allocates the device-side array, filled from {@code t} (a view over this leaf's storage); {@code half}: as fp16. */
    void allocate(Tensor t, boolean half) {
        DType dt = storage.dtype();
        if (half && !raw16) throw new IllegalStateException("fp16 storage for data that is not a 16-bit weight: " + dt);
        buffer = half ? new HalfFloatArray(length()) : raw16 && dt != DType.F32 ? new ShortArray(length()) : new FloatArray(length());
        fill(t);
    }

    /** The fp16 bits of element {@code i} of {@code src} (an F16 or F32 tensor's memory): F16 as stored, F32 rounded to nearest even. */
    static short halfBits(MemorySegment src, DType dt, long i) {
        return dt == DType.F16 ? src.get(ValueLayout.JAVA_SHORT_UNALIGNED, i * 2) : Float.floatToFloat16(dt.read(src, i));
    }

    /** Copies the range of {@code t}'s storage that {@code t} reads into the array (per-call data, before each execution). */
    void fill(Tensor t) {
        MemorySegment src = t.segment();
        DType dt = t.dtype();
        long lo = Ref.Storage.of(t).lo();
        int n = length();
        if (buffer instanceof HalfFloatArray h) {
            MemorySegment dst = h.getSegment();
            for (int i = 0; i < n; i++) dst.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, halfBits(src, dt, lo + i));
        } else if (buffer instanceof ShortArray) {
            MemorySegment.copy(src, ValueLayout.JAVA_SHORT_UNALIGNED, lo * 2, buffer.getSegment(), ValueLayout.JAVA_SHORT_UNALIGNED, 0, n);
        } else if (dt == DType.F32) {
            MemorySegment.copy(src, ValueLayout.JAVA_FLOAT_UNALIGNED, lo * 4, buffer.getSegment(), ValueLayout.JAVA_FLOAT_UNALIGNED, 0, n);
        } else {
            FloatArray f = (FloatArray) buffer;
            for (int i = 0; i < n; i++) f.set(i, dt.read(src, lo + i));
        }
    }

    /** Whether {@code t}'s storage holds what was uploaded (a constant that the model rebuilt with equal values). */
    boolean holds(Tensor t) {
        Ref.Storage s = Ref.Storage.of(t);
        if (s.dtype() != storage.dtype() || s.length() != storage.length()) return false;
        MemorySegment src = t.segment();
        int n = length();
        if (buffer instanceof HalfFloatArray h) {
            MemorySegment a = h.getSegment();
            for (int i = 0; i < n; i++) if (a.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i) != halfBits(src, s.dtype(), s.lo() + i)) return false;
        } else if (buffer instanceof ShortArray) {
            ShortArray a = (ShortArray) buffer;
            for (int i = 0; i < n; i++) if (a.get(i) != src.get(ValueLayout.JAVA_SHORT_UNALIGNED, (s.lo() + i) * 2)) return false;
        } else {
            FloatArray a = (FloatArray) buffer;
            for (int i = 0; i < n; i++) if (Float.floatToRawIntBits(a.get(i)) != Float.floatToRawIntBits(s.dtype().read(src, s.lo() + i))) return false;
        }
        return true;
    }
}
