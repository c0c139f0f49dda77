package dev.tornadodiffusion.weights;

import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

import static dev.tornadodiffusion.tensor.DType.*;

/**
 * Writes tensors of any dtype as a safetensors file laid out byte for byte as the reference (the Rust
 * {@code safetensors} crate behind {@code safetensors.torch.save_file}) lays it out: tensors sorted by dtype in
 * the crate's descending {@code Dtype} order (I64, F64, F32, ... BOOL) then by name, a compact JSON header with
 * {@code __metadata__} first, padded with spaces to a multiple of 8 bytes, then each tensor's bytes in header
 * order. Views are written in row-major order. The file is written next to its target and renamed into place,
 * so rewriting a file from its own memory-mapped tensors is safe.
 */
public final class SafetensorsWriter {
    /** The crate's {@code Dtype} enum order; tensors are written from the last (widest) to the first. */
    private static final List<DType> REFERENCE_ORDER = List.of(BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, F16, BF16, I32, F32, F64, I64);

    private SafetensorsWriter() {}

    public static void write(Path file, Map<String, Tensor> tensors) throws IOException {
        write(file, tensors, Map.of());
    }

    /** Writes {@code tensors} with {@code metadata} as {@code __metadata__} (left out when empty; written in the map's order). */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        List<String> names = new ArrayList<>(tensors.keySet());
        for (String name : names) {
            if (name.equals("__metadata__")) throw new IllegalArgumentException(file + ": '__metadata__' cannot name a tensor");
            if (tensors.get(name) == null) throw new IllegalArgumentException(file + ": tensor " + WeightFormatException.quote(name) + " is null");
        }
        names.sort(Comparator.<String>comparingInt(n -> -REFERENCE_ORDER.indexOf(tensors.get(n).dtype()))
                .thenComparing((a, b) -> Arrays.compareUnsigned(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8))));
        byte[] header = header(file, names, tensors, metadata);

        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            Out out = new Out(ch);
            MemorySegment length = MemorySegment.ofArray(new byte[8]);
            length.set(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, header.length);
            out.put(length, 0, 8);
            out.put(MemorySegment.ofArray(header), 0, header.length);
            for (String name : names) out.put(tensors.get(name));
            out.flush();
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** The JSON header as serde_json writes it (compact; only {@code "}, {@code \} and control characters escaped), space padded. */
    private static byte[] header(Path file, List<String> names, Map<String, Tensor> tensors, Map<String, String> metadata) {
        StringBuilder sb = new StringBuilder("{");
        if (!metadata.isEmpty()) {
            sb.append("\"__metadata__\":{");
            String sep = "";
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                string(sb.append(sep), e.getKey()).append(':');
                sep = ",";
                string(sb, e.getValue());
            }
            sb.append('}');
        }
        long offset = 0;
        for (String name : names) {
            Tensor t = tensors.get(name);
            if (sb.length() > 1) sb.append(',');
            string(sb, name).append(":{\"dtype\":\"").append(t.dtype().safetensorsName).append("\",\"shape\":[");
            int[] shape = t.shape();
            for (int i = 0; i < shape.length; i++) sb.append(i == 0 ? "" : ",").append(shape[i]);
            sb.append("],\"data_offsets\":[").append(offset).append(',').append(offset += t.byteSize()).append("]}");
        }
        sb.append('}');
        ByteBuffer utf8;
        try {
            utf8 = StandardCharsets.UTF_8.newEncoder().encode(CharBuffer.wrap(sb));
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(file + ": a tensor name or metadata entry is not valid Unicode");
        }
        int padded = (utf8.remaining() + 7) / 8 * 8;
        if (padded > Safetensors.MAX_HEADER_SIZE)
            throw new IllegalArgumentException(file + ": header of " + padded + " bytes is over the " + Safetensors.MAX_HEADER_SIZE + "-byte limit");
        byte[] header = new byte[padded];
        Arrays.fill(header, (byte) ' ');
        utf8.get(header, 0, utf8.remaining());
        return header;
    }

    private static StringBuilder string(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        return sb.append('"');
    }

    /** Buffered output of raw bytes from any segment (mapped, native, or heap arrays of any type). */
    private static final class Out {
        private final FileChannel ch;
        private final byte[] buf = new byte[1 << 20];
        private final MemorySegment bufSegment = MemorySegment.ofArray(buf);
        private int used;

        Out(FileChannel ch) { this.ch = ch; }

        void put(MemorySegment src, long offset, long length) throws IOException {
            while (length > 0) {
                if (used == buf.length) flush();
                int n = (int) Math.min(length, buf.length - used);
                MemorySegment.copy(src, offset, bufSegment, used, n);
                used += n;
                offset += n;
                length -= n;
            }
        }

        /** A tensor's elements in row-major order: whole for a contiguous tensor, else row by row of its last dimension. */
        void put(Tensor t) throws IOException {
            int size = t.dtype().byteSize;
            MemorySegment seg = t.segment();
            if (t.numel() == 0) return;
            if (t.isContiguous()) {
                put(seg, t.offset() * size, t.byteSize());
                return;
            }
            int last = t.dim(-1);
            long step = t.strides()[t.rank() - 1];
            for (long row = 0, rows = t.numel() / last; row < rows; row++) {
                long base = t.indexOfFlat(row * last);
                if (step == 1) put(seg, base * size, (long) last * size);
                else for (int j = 0; j < last; j++) put(seg, (base + j * step) * size, size);
            }
        }

        void flush() throws IOException {
            ByteBuffer b = ByteBuffer.wrap(buf, 0, used);
            while (b.hasRemaining()) ch.write(b);
            used = 0;
        }
    }
}
