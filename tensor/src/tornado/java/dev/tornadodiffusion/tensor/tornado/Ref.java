package dev.tornadodiffusion.tensor.tornado;

import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * An operand of a recorded operation: a view (element offset, shape, strides) either of a value computed on the
 * device ({@link Value}) or of host memory ({@link Leaf}: weights, inputs, small tensors the model makes).
 * For host data, {@code offset} counts from the start of the leaf's range, so a ref recorded once can be compared
 * with the ref a later call of the model makes from other host memory.
 */
final class Ref {
    final Value value;
    final Tensor host;          // the host tensor this ref was made from (host refs only)
    final Storage storage;      // identity of the host memory it reads (host refs only)
    final boolean raw16;        // a weight kept 16-bit on the device (host F16/BF16, or F32 stored as fp16), else F32
    final long offset;
    final int[] shape;
    final long[] strides;
    Leaf leaf;                  // set when the op that uses it is recorded

    private Ref(Value value, Tensor host, Storage storage, boolean raw16, long offset, int[] shape, long[] strides) {
        this.value = value;
        this.host = host;
        this.storage = storage;
        this.raw16 = raw16;
        this.offset = offset;
        this.shape = shape;
        this.strides = strides;
    }

    /** The ref of {@code t}; {@code raw16} asks to keep 16-bit floats as stored. */
    static Ref of(Tensor t, boolean raw16) {
        if (t.pending() != null) {
            if (!(t.pending() instanceof Value v)) throw new IllegalStateException(t + " is pending in another backend");
            return new Ref(v, null, null, false, t.offset(), t.shape(), t.strides());
        }
        Storage s = Storage.of(t);
        boolean keep = raw16 && (t.dtype() == DType.F16 || t.dtype() == DType.BF16);
        return new Ref(null, t, s, keep, t.offset() - s.lo(), t.shape(), t.strides());
    }

    /**
     * The ref of a GEMM or convolution weight: 16-bit floats kept as stored, and F32 marked for half-precision
     * storage too if {@code halfF32} (the device stores constants as fp16: {@link TornadoBackend#halfStorage}).
     */
    static Ref weight(Tensor t, boolean halfF32) {
        return halfF32 && t.pending() == null && t.dtype() == DType.F32 ? of(t, false).sixteen() : of(t, true);
    }

    private Ref sixteen() { return new Ref(value, host, storage, true, offset, shape, strides); }

    /** The same memory seen with another shape and strides (element offset relative to this ref's). */
    Ref view(long extraOffset, int[] shape, long[] strides) {
        Ref r = new Ref(value, host, storage, raw16, offset + extraOffset, shape, strides);
        r.leaf = leaf;
        return r;
    }

    boolean isValue() { return value != null; }

    long numel() { return Tensor.numel(shape); }

    /** Dense row-major from its offset. */
    boolean dense() {
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] != 1 && strides[i] != s) return false;
            s *= shape[i];
        }
        return true;
    }

    /** Whether {@code o} reads the same thing in the same way, for matching a replayed call against the recording. */
    boolean sameAs(Ref o) {
        if (o == null || value != o.value || offset != o.offset || !Arrays.equals(shape, o.shape) || !Arrays.equals(strides, o.strides)) return false;
        if (value != null) return true;
        return raw16 == o.raw16 && storage.dtype() == o.storage.dtype() && storage.hi() - storage.lo() == o.storage.hi() - o.storage.lo();
    }

    String describe() {
        return (value != null ? "v" + value.id : "h" + storage.dtype() + (raw16 ? "r" : "") + ":" + (storage.hi() - storage.lo()))
                + "@" + offset + Arrays.toString(shape) + Arrays.toString(strides);
    }

    /**
     * A range of host memory: its owner (the heap array, or the scope of native memory, so that a file mapped
     * again at the same address is other memory), address, dtype and the element range [lo, hi] that a view reads.
     * Equal storages are the same memory.
     */
    record Storage(Object owner, long address, boolean heap, DType dtype, long lo, long hi) {
        static Storage of(Tensor t) {
            MemorySegment seg = t.segment();
            long lo = t.offset(), hi = lo;
            int[] s = t.shape();
            long[] st = t.strides();
            for (int i = 0; i < s.length; i++) if (s[i] > 1) hi += (s[i] - 1) * st[i];
            Object array = seg.heapBase().orElse(null);
            return new Storage(array != null ? array : seg.scope(), seg.address(), array != null, t.dtype(), lo, hi);
        }

        long length() { return hi - lo + 1; }

        @Override
        public boolean equals(Object o) {
            return o instanceof Storage s && owner == s.owner && address == s.address && dtype == s.dtype && lo == s.lo && hi == s.hi;
        }

        @Override
        public int hashCode() {
            return System.identityHashCode(owner) * 31 + Long.hashCode(address) * 17 + Long.hashCode(lo) * 7 + Long.hashCode(hi);
        }
    }
}
