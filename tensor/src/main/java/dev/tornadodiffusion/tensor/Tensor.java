package dev.tornadodiffusion.tensor;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * An n-dimensional array: a dtype, a shape and element strides over a {@link MemorySegment}.
 * Views (reshape, permute, transpose, narrow, select, chunk) share the segment and copy nothing.
 * F32 tensors made by operations are backed by a heap {@code float[]} that kernels use directly
 * ({@link #array()}); weights are usually read-only memory-mapped segments in their stored dtype.
 */
public final class Tensor {
    private final MemorySegment data;
    private final DType dtype;
    private final long offset;      // in elements
    private final int[] shape;
    private final long[] strides;   // in elements
    private final float[] heap;     // the backing array when data wraps a float[], else null
    private final Pending pending;  // non-null while a recording backend has not computed this tensor yet

    /**
     * The producer of a tensor that a recording backend (TornadoVM) computes later, on its device. Such a tensor
     * has a shape and views but no host values: element access fails, and copies (contiguous, to, a reshape of
     * a strided view) are handed to the producer, which records them as operations too.
     */
    public interface Pending {
        /** A dense copy of {@code view} (a view of a tensor this producer made) converted to {@code target}. */
        Tensor copy(Tensor view, DType target);
    }

    private Tensor(MemorySegment data, float[] heap, DType dtype, long offset, int[] shape, long[] strides) {
        this(data, heap, null, dtype, offset, shape, strides);
    }

    private Tensor(MemorySegment data, float[] heap, Pending pending, DType dtype, long offset, int[] shape, long[] strides) {
        this.data = data;
        this.heap = heap;
        this.pending = pending;
        this.dtype = dtype;
        this.offset = offset;
        this.shape = shape;
        this.strides = strides;
    }

    // ---- creation

    /** A new zero-filled F32 tensor. */
    public static Tensor zeros(int... shape) {
        return of(new float[Math.toIntExact(numel(shape))], shape);
    }

    /** A new zero-filled tensor of any dtype. */
    public static Tensor zeros(DType dtype, int... shape) {
        if (dtype == DType.F32) return zeros(shape);
        MemorySegment s = MemorySegment.ofArray(new long[Math.toIntExact((numel(shape) * dtype.byteSize + 7) / 8)]);
        return new Tensor(s, null, dtype, 0, shape.clone(), contiguousStrides(shape));
    }

    /** Wraps {@code values} (not copied) as a contiguous F32 tensor. */
    public static Tensor of(float[] values, int... shape) {
        if (numel(shape) != values.length)
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + numel(shape) + " values, got " + values.length);
        return new Tensor(MemorySegment.ofArray(values), values, DType.F32, 0, shape.clone(), contiguousStrides(shape));
    }

    public static Tensor scalar(float v) {
        return of(new float[]{v});
    }

    /** A contiguous I64 tensor holding {@code values}. */
    public static Tensor ofLongs(long[] values, int... shape) {
        if (numel(shape) != values.length) throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " does not hold " + values.length + " values");
        return new Tensor(MemorySegment.ofArray(values.clone()), null, DType.I64, 0, shape.clone(), contiguousStrides(shape));
    }

    /** A dense F32 tensor whose values {@code producer} will compute (see {@link Pending}). */
    public static Tensor pending(Pending producer, int... shape) {
        numel(shape);
        return new Tensor(MemorySegment.NULL, null, producer, DType.F32, 0, shape.clone(), contiguousStrides(shape));
    }

    /** Wraps raw little-endian bytes (a mapped file region, say) without copying. */
    public static Tensor wrap(MemorySegment segment, DType dtype, int... shape) {
        long need = numel(shape) * dtype.byteSize;
        if (segment.byteSize() < need)
            throw new IllegalArgumentException("segment of " + segment.byteSize() + " bytes cannot hold " + dtype + Arrays.toString(shape));
        return new Tensor(segment, null, dtype, 0, shape.clone(), contiguousStrides(shape));
    }

    /**
     * A strided view of raw little-endian bytes without copying (a PyTorch storage, say): element
     * {@code offset} is the first, strides count elements and may be 0 (broadcast) but not negative.
     */
    public static Tensor asStrided(MemorySegment segment, DType dtype, int[] shape, long[] strides, long offset) {
        if (shape.length != strides.length || offset < 0)
            throw new IllegalArgumentException("bad view: shape " + Arrays.toString(shape) + ", strides " + Arrays.toString(strides) + ", offset " + offset);
        long end;   // one past the highest element index the view reaches, in elements then bytes
        try {
            end = Math.addExact(offset, 1);
            for (int i = 0; i < shape.length; i++) {
                if (shape[i] < 0 || strides[i] < 0)
                    throw new IllegalArgumentException("negative size or stride: shape " + Arrays.toString(shape) + ", strides " + Arrays.toString(strides));
                if (shape[i] == 0) { end = 0; break; }
                end = Math.addExact(end, Math.multiplyExact((long) shape[i] - 1, strides[i]));
            }
            end = Math.multiplyExact(end, (long) dtype.byteSize);
        } catch (ArithmeticException e) {
            end = Long.MAX_VALUE;
        }
        if (end > segment.byteSize())
            throw new IllegalArgumentException("view " + dtype + Arrays.toString(shape) + " strides " + Arrays.toString(strides) + " offset " + offset
                    + " reaches beyond " + segment.byteSize() + " bytes");
        return new Tensor(segment, null, dtype, offset, shape.clone(), strides.clone());
    }

    // ---- shape

    public DType dtype() { return dtype; }
    public int[] shape() { return shape.clone(); }
    public int rank() { return shape.length; }
    public long[] strides() { return strides.clone(); }
    public long offset() { return offset; }
    public MemorySegment segment() { return data; }

    /** The producer of a not-yet-computed tensor, or null for a tensor with host values. */
    public Pending pending() { return pending; }

    /** Size of dimension {@code d}; negative d counts from the end. */
    public int dim(int d) { return shape[d < 0 ? shape.length + d : d]; }

    public long numel() { return numel(shape); }

    public long byteSize() { return numel() * dtype.byteSize; }

    public static long numel(int... shape) {
        long n = 1;
        for (int s : shape) {
            if (s < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            n *= s;
        }
        return n;
    }

    public static long[] contiguousStrides(int[] shape) {
        long[] st = new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) { st[i] = s; s *= shape[i]; }
        return st;
    }

    public boolean isContiguous() {
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] != 1 && strides[i] != s) return false;
            s *= shape[i];
        }
        return true;
    }

    public boolean sameShape(Tensor o) { return Arrays.equals(shape, o.shape); }

    // ---- views

    /** Same elements, new shape; one dimension may be -1. Copies only if this view is not contiguous. */
    public Tensor reshape(int... newShape) {
        int[] s = newShape.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) { if (infer >= 0) throw new IllegalArgumentException("two -1 in reshape"); infer = i; }
            else known *= s[i];
        }
        if (infer >= 0) {
            if (known == 0 || numel() % known != 0) throw new IllegalArgumentException("cannot reshape " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
            s[infer] = (int) (numel() / known);
        }
        if (numel(s) != numel()) throw new IllegalArgumentException("cannot reshape " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
        Tensor c = isContiguous() ? this : contiguous();
        return new Tensor(c.data, c.heap, c.pending, dtype, c.offset, s, contiguousStrides(s));
    }

    public Tensor permute(int... order) {
        if (order.length != shape.length) throw new IllegalArgumentException("permute " + Arrays.toString(order) + " of rank " + shape.length);
        int[] s = new int[order.length];
        long[] st = new long[order.length];
        boolean[] seen = new boolean[order.length];
        for (int i = 0; i < order.length; i++) {
            int d = order[i] < 0 ? order[i] + shape.length : order[i];
            if (seen[d]) throw new IllegalArgumentException("permute repeats dimension " + d);
            seen[d] = true;
            s[i] = shape[d];
            st[i] = strides[d];
        }
        return new Tensor(data, heap, pending, dtype, offset, s, st);
    }

    public Tensor transpose(int a, int b) {
        int[] order = new int[shape.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        a = a < 0 ? a + shape.length : a;
        b = b < 0 ? b + shape.length : b;
        order[a] = b;
        order[b] = a;
        return permute(order);
    }

    /** Elements {@code start .. start+length-1} along {@code d}. */
    public Tensor narrow(int d, int start, int length) {
        d = d < 0 ? d + shape.length : d;
        if (start < 0 || length < 0 || start + length > shape[d])
            throw new IndexOutOfBoundsException("narrow(" + d + ", " + start + ", " + length + ") of " + Arrays.toString(shape));
        int[] s = shape.clone();
        s[d] = length;
        return new Tensor(data, heap, pending, dtype, offset + start * strides[d], s, strides);
    }

    /** Index {@code i} along {@code d}, dropping that dimension. */
    public Tensor select(int d, int i) {
        d = d < 0 ? d + shape.length : d;
        Tensor n = narrow(d, i, 1);
        int[] s = new int[shape.length - 1];
        long[] st = new long[shape.length - 1];
        for (int k = 0, j = 0; k < shape.length; k++) if (k != d) { s[j] = shape[k]; st[j++] = strides[k]; }
        return new Tensor(data, heap, pending, dtype, n.offset, s, st);
    }

    /** Splits dimension {@code d} into {@code n} equal views. */
    public Tensor[] chunk(int n, int d) {
        d = d < 0 ? d + shape.length : d;
        if (shape[d] % n != 0) throw new IllegalArgumentException("cannot chunk size " + shape[d] + " into " + n);
        Tensor[] out = new Tensor[n];
        int len = shape[d] / n;
        for (int i = 0; i < n; i++) out[i] = narrow(d, i * len, len);
        return out;
    }

    public Tensor unsqueeze(int d) {
        d = d < 0 ? d + shape.length + 1 : d;
        int[] s = new int[shape.length + 1];
        long[] st = new long[shape.length + 1];
        for (int i = 0, j = 0; i < s.length; i++) {
            if (i == d) { s[i] = 1; st[i] = j < shape.length ? strides[j] * shape[j] : 1; }
            else { s[i] = shape[j]; st[i] = strides[j++]; }
        }
        return new Tensor(data, heap, pending, dtype, offset, s, st);
    }

    // ---- element access (slow path: use kernels for bulk work)

    /** Storage element index of a logical multi-index. */
    public long index(int... idx) {
        long o = offset;
        for (int i = 0; i < idx.length; i++) o += (long) idx[i] * strides[i];
        return o;
    }

    /** Storage element index of the {@code flat}-th element in row-major logical order. */
    public long indexOfFlat(long flat) {
        long o = offset;
        for (int i = shape.length - 1; i >= 0; i--) {
            int s = shape[i];
            o += (flat % s) * strides[i];
            flat /= s;
        }
        return o;
    }

    public float get(int... idx) { return dtype.read(host(), index(idx)); }

    public void set(float v, int... idx) { dtype.write(host(), index(idx), v); }

    public float getFlat(long flat) { return dtype.read(host(), indexOfFlat(flat)); }

    public long getLongFlat(long flat) { return dtype.readLong(host(), indexOfFlat(flat)); }

    /** The value of a one-element tensor. */
    public float item() {
        if (numel() != 1) throw new IllegalStateException("item() of a tensor with " + numel() + " elements");
        return dtype.read(host(), offset);
    }

    private MemorySegment host() {
        if (pending != null)
            throw new IllegalStateException("reading " + this + " on the host, but it is computed later on the device (a recording backend has not run it yet)");
        return data;
    }

    // ---- copies

    /** The backing array of a dense heap F32 tensor that starts at element 0 (what kernels write into). */
    public float[] array() {
        host();
        if (heap == null || offset != 0 || !isContiguous() || heap.length != numel())
            throw new IllegalStateException("not a dense heap F32 tensor: " + this);
        return heap;
    }

    /** True when {@link #array()} may be called. */
    public boolean isDenseHeapF32() {
        return heap != null && offset == 0 && heap.length == numel() && isContiguous();
    }

    /** This tensor if it is dense heap F32, else a dense F32 copy (widening F16/BF16 etc.). */
    public Tensor contiguousF32() {
        return isDenseHeapF32() ? this : to(DType.F32);
    }

    /** A new dense copy in row-major order, same dtype. */
    public Tensor contiguous() {
        return copyAs(dtype);
    }

    /** A dense copy converted to {@code target} (always a new tensor). */
    public Tensor to(DType target) {
        return copyAs(target);
    }

    private Tensor copyAs(DType target) {
        if (pending != null) return pending.copy(this, target);
        long n = numel();
        Tensor out = zeros(target, shape);
        boolean integral = !dtype.floating && !target.floating;
        if (dtype == DType.F32 && target == DType.F32 && heap != null) {
            float[] dst = out.heap;
            if (isContiguous()) System.arraycopy(heap, (int) offset, dst, 0, (int) n);
            else for (int i = 0; i < n; i++) dst[i] = heap[(int) indexOfFlat(i)];
            return out;
        }
        for (long i = 0; i < n; i++) {
            long src = indexOfFlat(i);
            if (integral) target.writeLong(out.data, i, dtype.readLong(data, src));
            else target.write(out.data, i, dtype.read(data, src));
        }
        return out;
    }

    /** All elements as a new float array in row-major order. */
    public float[] toFloatArray() {
        return (isDenseHeapF32() ? this : to(DType.F32)).array().clone();
    }

    /** All elements as doubles in row-major order, exactly: F64 values and integers beyond float precision included. */
    public double[] toDoubleArray() {
        double[] out = new double[Math.toIntExact(numel())];
        for (int i = 0; i < out.length; i++)
            out[i] = dtype == DType.F64 ? data.get(DType.F64_LE, indexOfFlat(i) * Double.BYTES) : dtype.floating ? getFlat(i) : getLongFlat(i);
        return out;
    }

    public long[] toLongArray() {
        long[] out = new long[Math.toIntExact(numel())];
        for (int i = 0; i < out.length; i++) out[i] = getLongFlat(i);
        return out;
    }

    @Override
    public String toString() {
        return (pending != null ? "PendingTensor(" : "Tensor(") + dtype + Arrays.toString(shape) + (isContiguous() ? "" : " strides=" + Arrays.toString(strides)) + ")";
    }
}
