package dev.tornadodiffusion.tensor.cpu;

import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * A 2-D tensor view packed as a GEMM operand without copying it first: element (lane, depth) is at
 * element {@code base + lane*laneStride + depth*depthStride} of its storage. Heap F32 is read from the
 * array; F32/F16/BF16 segments (memory-mapped weights) are read and widened while packing.
 */
final class TensorOperand implements Gemm.Operand {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    private final float[] heap;       // non-null: read from this array
    private final MemorySegment seg;
    private final DType dtype;
    private final long base, laneStride, depthStride;

    private TensorOperand(Tensor t, float[] heap, long base, long laneStride, long depthStride) {
        this.heap = heap;
        this.seg = t.segment();
        this.dtype = t.dtype();
        this.base = base;
        this.laneStride = laneStride;
        this.depthStride = depthStride;
    }

    /** {@code t} [rows, cols] read with lanes along dimension {@code laneDim} (0: rows of A, 1: columns of B). */
    static TensorOperand of(Tensor t, int laneDim) {
        if (t.rank() != 2) throw new IllegalArgumentException("GEMM operand must be 2-D: " + Arrays.toString(t.shape()));
        if (!t.dtype().floating) throw new IllegalArgumentException("GEMM operand of dtype " + t.dtype());
        long[] st = t.strides();
        float[] heap = heapArray(t);
        long base = t.offset() + (heap == null ? 0 : t.segment().address() / Float.BYTES);
        return new TensorOperand(t, heap, base, st[laneDim], st[1 - laneDim]);
    }

    /** The float[] behind a heap F32 tensor (any view), else null. */
    private static float[] heapArray(Tensor t) {
        if (t.dtype() != DType.F32) return null;
        MemorySegment s = t.segment();
        return s.heapBase().orElse(null) instanceof float[] a && s.address() % Float.BYTES == 0 ? a : null;
    }

    /** True when lanes are rows of a heap F32 array, contiguous along depth: the GEMM reads it in place. */
    boolean rowMajorF32() { return heap != null && depthStride == 1; }

    float[] heap() { return heap; }

    int laneStride() { return (int) laneStride; }

    /** True when every lane is a contiguous run along depth (row-major A, transposed B): {@link #packRows} applies. */
    boolean depthContiguous() { return depthStride == 1; }

    /**
     * Copies lanes {@code [lane0, lane0+lanes)} x depth {@code [depth0, depth0+depth)} lane by lane:
     * {@code dst[off + l*depth + p]}, zero-filling lanes {@code lanes..width-1}. Each lane is one contiguous
     * copy (F32: a bulk copy; F16/BF16: a widening loop), where the depth-major {@link #pack} transposes element
     * by element: weights as GEMM's A operand are packed this way. Needs {@link #depthContiguous}.
     */
    void packRows(int lane0, int lanes, int depth0, int depth, float[] dst, int off, int width) {
        long start = base + lane0 * laneStride + depth0;
        for (int l = 0; l < lanes; l++) {
            long s = start + l * laneStride;
            int d = off + l * depth;
            if (heap != null) System.arraycopy(heap, (int) s, dst, d, depth);
            else switch (dtype) {
                case F32 -> MemorySegment.copy(seg, F32, s * 4, dst, d, depth);
                case F16 -> { for (int p = 0; p < depth; p++) dst[d + p] = Float.float16ToFloat(seg.get(I16, (s + p) * 2)); }
                case BF16 -> { for (int p = 0; p < depth; p++) dst[d + p] = Float.intBitsToFloat(seg.get(I16, (s + p) * 2) << 16); }
                default -> { for (int p = 0; p < depth; p++) dst[d + p] = dtype.read(seg, s + p); }
            }
        }
        Arrays.fill(dst, off + lanes * depth, off + width * depth, 0f);
    }

    /** Array index of element (lane, depth) of a heap operand. */
    int offset(int lane, int depth) { return (int) (base + lane * laneStride + depth * depthStride); }

    @Override
    public void pack(int lane0, int lanes, int depth0, int depth, float[] dst, int off, int width) {
        long start = base + lane0 * laneStride + depth0 * depthStride;
        if (heap != null && depthStride == 1) {
            // Rows along depth (activations [M, K], transposed weights): gather lane by lane.
            for (int l = 0; l < lanes; l++) {
                int s = (int) (start + l * laneStride), d = off + l;
                for (int p = 0; p < depth; p++, d += width) dst[d] = heap[s + p];
            }
        } else if (heap != null && laneStride == 1) {
            for (int p = 0; p < depth; p++) System.arraycopy(heap, (int) (start + p * depthStride), dst, off + p * width, lanes);
        } else if (heap != null) {
            for (int p = 0; p < depth; p++)
                for (int l = 0; l < lanes; l++) dst[off + p * width + l] = heap[(int) (start + l * laneStride + p * depthStride)];
        } else if (depthStride == 1 && (dtype == DType.F16 || dtype == DType.BF16 || dtype == DType.F32)) {
            for (int l = 0; l < lanes; l++) {
                long s = start + l * laneStride;
                int d = off + l;
                switch (dtype) {
                    case F16 -> { for (int p = 0; p < depth; p++, d += width) dst[d] = Float.float16ToFloat(seg.get(I16, (s + p) * 2)); }
                    case BF16 -> { for (int p = 0; p < depth; p++, d += width) dst[d] = Float.intBitsToFloat(seg.get(I16, (s + p) * 2) << 16); }
                    default -> { for (int p = 0; p < depth; p++, d += width) dst[d] = seg.get(F32, (s + p) * 4); }
                }
            }
        } else {
            for (int p = 0; p < depth; p++)
                for (int l = 0; l < lanes; l++) dst[off + p * width + l] = dtype.read(seg, start + l * laneStride + p * depthStride);
        }
        if (lanes < width) for (int p = 0; p < depth; p++) Arrays.fill(dst, off + p * width + lanes, off + (p + 1) * width, 0f);
    }
}
