package dev.tornadodiffusion.weights;

import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

class SafetensorsWriterTest {
    @TempDir Path dir;

    static byte[] bytes(int... b) {
        byte[] out = new byte[b.length];
        for (int i = 0; i < b.length; i++) out[i] = (byte) b[i];
        return out;
    }

    /** The byte arrays asserted by the reference crate's own tests (safetensors/src/tensor.rs). */
    @Test
    void matchesTheReferenceCratesSerializationTests() throws IOException {
        Tensor t = Tensor.of(new float[]{0, 1, 2, 3, 4, 5}, 1, 2, 3);
        Path f = dir.resolve("a.safetensors");
        SafetensorsWriter.write(f, Map.of("attn.0", t));
        assertArrayEquals(bytes(64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
                116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
                58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
                101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
                0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64), Files.readAllBytes(f));

        SafetensorsWriter.write(f, Map.of("attn0", t.reshape(1, 1, 2, 3)));
        assertArrayEquals(bytes(72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116,
                121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
                91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
                115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32,
                32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0,
                160, 64), Files.readAllBytes(f));

        SafetensorsWriter.write(f, Map.of());
        assertArrayEquals(bytes(8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32), Files.readAllBytes(f));

        SafetensorsWriter.write(f, Map.of(), Map.of("framework", "pt"));
        assertArrayEquals(bytes(40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
                95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
                116, 34, 125, 125, 32, 32, 32, 32, 32), Files.readAllBytes(f));
        assertFalse(Files.exists(dir.resolve("a.safetensors.tmp")));
    }

    /** Every fixture file (written by the reference library) is reproduced byte for byte from its own tensors and metadata. */
    @Test
    void rewritesEveryFixtureFileByteForByte() throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.walk(Fixtures.path(""))) {
            files = s.filter(p -> p.toString().endsWith(".safetensors")).sorted().toList();
        }
        assertTrue(files.size() > 50, "fixtures found: " + files.size());
        boolean sawManyDtypes = false, sawMetadata = false;
        for (Path f : files) {
            Path copy = dir.resolve("copy.safetensors");
            try (Safetensors st = Safetensors.open(f)) {
                Map<String, Tensor> tensors = new LinkedHashMap<>();
                // a shuffled insertion order must not matter: the writer sorts as the reference does
                List<String> keys = new ArrayList<>(st.keys());
                Collections.reverse(keys);
                for (String k : keys) tensors.put(k, st.get(k));
                SafetensorsWriter.write(copy, tensors, st.metadata());
                sawManyDtypes |= tensors.values().stream().map(Tensor::dtype).distinct().count() >= 8;
                sawMetadata |= st.metadata().size() > 3;
            }
            assertEquals(-1, Files.mismatch(f, copy), f.toString());
        }
        assertTrue(sawManyDtypes && sawMetadata);
    }

    /** Rewriting a file in place from its own mapped tensors works (the new file is renamed over the old). */
    @Test
    void rewritesAFileFromItsOwnTensorsInPlace() throws IOException {
        Path f = dir.resolve("w.safetensors");
        SafetensorsWriter.write(f, Map.of("x", Tensor.of(new float[]{1, 2, 3, 4}, 2, 2)));
        byte[] before = Files.readAllBytes(f);
        try (Safetensors st = Safetensors.open(f)) {
            SafetensorsWriter.write(f, Map.of("x", st.get("x")));
            assertArrayEquals(new float[]{1, 2, 3, 4}, st.get("x").toFloatArray());
        }
        assertArrayEquals(before, Files.readAllBytes(f));
    }

    @Test
    void roundTripsEveryDtypeAndWritesViewsInRowMajorOrder() throws IOException {
        Map<String, Tensor> in = new LinkedHashMap<>();
        for (DType d : DType.values()) {
            Tensor t = Tensor.zeros(d, 3, 4);
            for (int i = 0; i < 12; i++) t.segment().set(ValueLayout.JAVA_BYTE, (long) i * d.byteSize, (byte) (i + 1));
            in.put("t_" + d, t);
        }
        Tensor base = Tensor.of(new float[]{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 3, 4);
        in.put("transposed", base.transpose(0, 1));           // [4,3], last stride 4
        in.put("narrowed", base.narrow(1, 1, 2));              // [3,2], rows with stride 1
        in.put("selected", base.select(0, 2));                 // [4], contiguous at an offset
        in.put("f16_transposed", base.to(DType.F16).transpose(0, 1));
        in.put("empty_view", Tensor.zeros(0, 3).transpose(0, 1));
        in.put("scalar", Tensor.scalar(-1.5f));
        in.put("wéird \"name\"\n\u0001/ü", Tensor.scalar(2));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("z", "last\tfirst");
        meta.put("a", "ünïcode \\ \"q\"");
        Path f = dir.resolve("all.safetensors");
        SafetensorsWriter.write(f, in, meta);
        try (Safetensors st = Safetensors.open(f)) {
            assertEquals(meta, st.metadata());
            assertEquals(List.copyOf(meta.keySet()), List.copyOf(st.metadata().keySet()));
            assertEquals(in.keySet(), st.keys());
            for (Map.Entry<String, Tensor> e : in.entrySet()) {
                Tensor a = e.getValue(), b = st.get(e.getKey());
                assertEquals(a.dtype(), b.dtype(), e.getKey());
                assertArrayEquals(a.shape(), b.shape(), e.getKey());
                for (long i = 0; i < a.numel(); i++) {
                    long sa = a.indexOfFlat(i) * a.dtype().byteSize, sb = b.indexOfFlat(i) * b.dtype().byteSize;
                    for (int k = 0; k < a.dtype().byteSize; k++)
                        assertEquals(a.segment().get(ValueLayout.JAVA_BYTE, sa + k), b.segment().get(ValueLayout.JAVA_BYTE, sb + k), e.getKey());
                }
            }
            assertArrayEquals(new float[]{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}, st.get("transposed").toFloatArray());
            assertArrayEquals(new float[]{1, 2, 5, 6, 9, 10}, st.get("narrowed").toFloatArray());
            assertArrayEquals(new float[]{8, 9, 10, 11}, st.get("selected").toFloatArray());
            // the header lists I64 first and BOOL last, as the reference orders dtypes
            List<String> order = List.copyOf(st.keys());
            assertEquals("t_I64", order.getFirst());
            assertEquals("t_BOOL", order.getLast());
        }
        // names and metadata are escaped as serde_json does
        byte[] all = Files.readAllBytes(f);
        String header = new String(all, 8, (int) ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).getLong(0), StandardCharsets.UTF_8);
        assertTrue(header.contains("\"wéird \\\"name\\\"\\n\\u0001/ü\""), header);
        assertTrue(header.startsWith("{\"__metadata__\":{\"z\":\"last\\tfirst\",\"a\":"), header);
    }

    @Test
    void rejectsUnwritableInput() {
        Path f = dir.resolve("bad.safetensors");
        assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.write(f, Map.of("__metadata__", Tensor.scalar(1))));
        assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.write(f, Map.of("a\ud800", Tensor.scalar(1))));
        assertFalse(Files.exists(f));
    }

    @Test
    void writesTensorsBackedByNativeMemory() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(8);
            seg.set(ValueLayout.JAVA_DOUBLE_UNALIGNED, 0, 6.5);
            Path f = dir.resolve("n.safetensors");
            SafetensorsWriter.write(f, Map.of("d", Tensor.wrap(seg, DType.F64)));
            try (Safetensors st = Safetensors.open(f)) { assertEquals(6.5f, st.get("d").item()); }
        }
    }
}
