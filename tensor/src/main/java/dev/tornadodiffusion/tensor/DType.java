package dev.tornadodiffusion.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Element types, named as in safetensors headers. Multi-byte values are little endian, as in the files. */
public enum DType {
    F64(8, "F64", true), F32(4, "F32", true), F16(2, "F16", true), BF16(2, "BF16", true),
    I64(8, "I64", false), I32(4, "I32", false), I16(2, "I16", false), I8(1, "I8", false),
    U8(1, "U8", false), BOOL(1, "BOOL", false),
    /** 8-bit floats: readable (widened to F32), never produced by an operation. */
    F8_E4M3(1, "F8_E4M3", true), F8_E5M2(1, "F8_E5M2", true);

    static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED;
    static final ValueLayout.OfDouble F64_LE = ValueLayout.JAVA_DOUBLE_UNALIGNED;
    static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED;
    static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED;
    static final ValueLayout.OfLong I64_LE = ValueLayout.JAVA_LONG_UNALIGNED;

    public final int byteSize;
    public final String safetensorsName;
    public final boolean floating;

    DType(int byteSize, String safetensorsName, boolean floating) {
        this.byteSize = byteSize;
        this.safetensorsName = safetensorsName;
        this.floating = floating;
    }

    /** The dtype for a safetensors header name, or null when the name is unknown. */
    public static DType fromSafetensors(String name) {
        for (DType d : values()) if (d.safetensorsName.equals(name)) return d;
        return null;
    }

    /** Reads element {@code index} (counted in elements of this dtype) as a float. */
    public float read(MemorySegment s, long index) {
        long o = index * byteSize;
        return switch (this) {
            case F32 -> s.get(F32_LE, o);
            case F16 -> Float.float16ToFloat(s.get(I16_LE, o));
            case BF16 -> Float.intBitsToFloat((s.get(I16_LE, o) & 0xffff) << 16);
            case F64 -> (float) s.get(F64_LE, o);
            case I64 -> s.get(I64_LE, o);
            case I32 -> s.get(I32_LE, o);
            case I16 -> s.get(I16_LE, o);
            case I8 -> s.get(ValueLayout.JAVA_BYTE, o);
            case U8, BOOL -> s.get(ValueLayout.JAVA_BYTE, o) & 0xff;
            case F8_E4M3 -> f8e4m3ToFloat(s.get(ValueLayout.JAVA_BYTE, o));
            case F8_E5M2 -> Float.float16ToFloat((short) (s.get(ValueLayout.JAVA_BYTE, o) << 8));
        };
    }

    /** Reads an integer element exactly (I64 values beyond float precision survive). */
    public long readLong(MemorySegment s, long index) {
        long o = index * byteSize;
        return switch (this) {
            case I64 -> s.get(I64_LE, o);
            case I32 -> s.get(I32_LE, o);
            case I16 -> s.get(I16_LE, o);
            case I8 -> s.get(ValueLayout.JAVA_BYTE, o);
            case U8, BOOL -> s.get(ValueLayout.JAVA_BYTE, o) & 0xff;
            case F64 -> (long) s.get(F64_LE, o);
            default -> (long) read(s, index);
        };
    }

    /** Writes element {@code index}, rounding to this dtype (round-to-nearest-even for F16/BF16). */
    public void write(MemorySegment s, long index, float v) {
        long o = index * byteSize;
        switch (this) {
            case F32 -> s.set(F32_LE, o, v);
            case F16 -> s.set(I16_LE, o, Float.floatToFloat16(v));
            case BF16 -> s.set(I16_LE, o, floatToBf16(v));
            case F64 -> s.set(F64_LE, o, v);
            case I64 -> s.set(I64_LE, o, (long) v);
            case I32 -> s.set(I32_LE, o, (int) v);
            case I16 -> s.set(I16_LE, o, (short) v);
            case I8, U8 -> s.set(ValueLayout.JAVA_BYTE, o, (byte) (int) v);
            case BOOL -> s.set(ValueLayout.JAVA_BYTE, o, (byte) (v != 0 ? 1 : 0));
            case F8_E4M3, F8_E5M2 -> throw new UnsupportedOperationException("writing " + this + " is not supported");
        }
    }

    public void writeLong(MemorySegment s, long index, long v) {
        long o = index * byteSize;
        switch (this) {
            case I64 -> s.set(I64_LE, o, v);
            case I32 -> s.set(I32_LE, o, (int) v);
            case F64 -> s.set(F64_LE, o, (double) v);
            default -> write(s, index, (float) v);
        }
    }

    public static short floatToBf16(float v) {
        int bits = Float.floatToRawIntBits(v);
        if (Float.isNaN(v)) return (short) ((bits >>> 16) | 0x40);
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    static float f8e4m3ToFloat(byte b) {
        int sign = (b & 0x80) != 0 ? -1 : 1, e = (b >> 3) & 0xf, m = b & 0x7;
        if (e == 0xf && m == 0x7) return Float.NaN;
        float mag = e == 0 ? m / 8f * 0x1p-6f : (1 + m / 8f) * (float) Math.scalb(1.0, e - 7);
        return sign * mag;
    }
}
