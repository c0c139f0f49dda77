package dev.tornadodiffusion.weights;

import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class SafetensorsTest {

    @TempDir Path dir;

    /** A safetensors file from a header written by hand and raw data bytes (independent of the writer). */
    static byte[] file(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(h.length).put(h).put(data).array();
    }

    Path write(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    @Test
    void readsEveryDtypeWithKnownValues() throws IOException {
        ByteBuffer d = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        d.putDouble(-2.5);                                   // f64 [0, 8)
        d.putFloat(1.25f).putFloat(-3f);                     // f32 [8, 16)
        d.putShort(Float.floatToFloat16(0.5f));              // f16 [16, 18)
        d.putShort((short) 0x3fc0);                          // bf16 1.5 [18, 20)
        d.putLong(1L << 40);                                 // i64 [20, 28)
        d.putInt(-7);                                        // i32 [28, 32)
        d.putShort((short) -300);                            // i16 [32, 34)
        d.put((byte) -5);                                    // i8 [34, 35)
        d.put((byte) 200);                                   // u8 [35, 36)
        d.put((byte) 1).put((byte) 0);                       // bool [36, 38)
        d.put((byte) 0x38);                                  // f8_e4m3 1.0 [38, 39)
        d.put((byte) 0xc0);                                  // f8_e5m2 -2.0 [39, 40)
        byte[] data = java.util.Arrays.copyOf(d.array(), 40);
        String header = """
                {"__metadata__":{"format":"pt","note":"hi"},
                 "f64":{"dtype":"F64","shape":[],"data_offsets":[0,8]},
                 "f32":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},
                 "f16":{"dtype":"F16","shape":[1],"data_offsets":[16,18]},
                 "bf16":{"dtype":"BF16","shape":[1,1],"data_offsets":[18,20]},
                 "i64":{"dtype":"I64","shape":[1],"data_offsets":[20,28]},
                 "i32":{"dtype":"I32","shape":[1],"data_offsets":[28,32]},
                 "i16":{"dtype":"I16","shape":[1],"data_offsets":[32,34]},
                 "i8":{"dtype":"I8","shape":[1],"data_offsets":[34,35]},
                 "u8":{"dtype":"U8","shape":[1],"data_offsets":[35,36]},
                 "bool":{"dtype":"BOOL","shape":[2],"data_offsets":[36,38]},
                 "f8a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[38,39]},
                 "f8b":{"dtype":"F8_E5M2","shape":[1],"data_offsets":[39,40]},
                 "empty":{"dtype":"F32","shape":[0,3],"data_offsets":[40,40]}}""";
        try (Safetensors st = Safetensors.open(write("all.safetensors", file(header, data)))) {
            assertEquals(Map.of("format", "pt", "note", "hi"), st.metadata());
            assertEquals(List.of("f64", "f32", "f16", "bf16", "i64", "i32", "i16", "i8", "u8", "bool", "f8a", "f8b", "empty"), List.copyOf(st.keys()));
            assertEquals(-2.5f, st.get("f64").item());
            assertEquals(0, st.get("f64").rank());
            assertArrayEquals(new float[]{1.25f, -3f}, st.get("f32").toFloatArray());
            assertEquals(0.5f, st.get("f16").item());
            assertEquals(1.5f, st.get("bf16").item());
            assertArrayEquals(new int[]{1, 1}, st.get("bf16").shape());
            assertEquals(1L << 40, st.get("i64").getLongFlat(0));
            assertEquals(-7, st.get("i32").getLongFlat(0));
            assertEquals(-300, st.get("i16").getLongFlat(0));
            assertEquals(-5, st.get("i8").getLongFlat(0));
            assertEquals(200, st.get("u8").getLongFlat(0));
            assertArrayEquals(new long[]{1, 0}, st.get("bool").toLongArray());
            assertEquals(1f, st.get("f8a").item());
            assertEquals(-2f, st.get("f8b").item());
            assertEquals(0, st.get("empty").numel());
            for (String k : st.keys()) assertEquals(DType.fromSafetensors(k.equals("f8a") ? "F8_E4M3" : k.equals("f8b") ? "F8_E5M2"
                    : k.equals("empty") ? "F32" : k.toUpperCase()), st.get(k).dtype(), k);
        }
    }

    @Test
    void tensorsAreReadOnlyViewsOfTheMappedFileUntilClose() throws IOException {
        Safetensors st = Safetensors.open(Fixtures.path("unet-sd/diffusion_pytorch_model.safetensors"));
        Tensor w = st.get("conv_in.weight");
        assertTrue(w.segment().isMapped());
        assertTrue(w.segment().isReadOnly());
        assertThrows(IllegalArgumentException.class, () -> w.set(1f, 0, 0, 0, 0));
        float first = w.getFlat(0);
        st.close();
        st.close();
        assertThrows(IllegalStateException.class, () -> st.get("conv_in.weight"));
        assertThrows(IllegalStateException.class, () -> w.getFlat(0), "reading an unmapped tensor must fail, not crash: " + first);
    }

    @Test
    void readsTheUNetFixture() throws IOException {
        Path f = Fixtures.path("unet-sd/diffusion_pytorch_model.safetensors");
        try (Safetensors st = Safetensors.open(f)) {
            assertEquals(f.toString(), st.source());
            assertEquals(Map.of("format", "pt"), st.metadata());
            assertEquals(494, st.keys().size());
            assertArrayEquals(new int[]{16, 4, 3, 3}, st.get("conv_in.weight").shape());
            assertEquals(DType.F32, st.get("conv_in.weight").dtype());
            long bytes = 0;
            for (String k : st.keys()) bytes += st.get(k).byteSize();
            assertEquals(Files.size(f) - 8 - 55904, bytes);
            // conv_in.bias is the first tensor of the data region: compare with the raw file bytes
            ByteBuffer raw = ByteBuffer.wrap(Files.readAllBytes(f)).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(raw.getFloat(8 + 55904 + 4 * 3), st.get("conv_in.bias").getFlat(3));
            WeightFormatException e = assertThrows(WeightFormatException.class, () -> st.get("conv_in.wieght"));
            assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains("'conv_in.wieght'"), e.getMessage());
        }
    }

    @Test
    void headerOnlyAndEmptyFilesAreValid() throws IOException {
        try (Safetensors st = Safetensors.open(write("e.safetensors", file("{}      ", new byte[0])))) {
            assertTrue(st.keys().isEmpty());
            assertTrue(st.metadata().isEmpty());
        }
        try (Safetensors st = Safetensors.open(write("n.safetensors", file("{\"__metadata__\":null}", new byte[0])))) {
            assertTrue(st.metadata().isEmpty());
        }
    }

    /** Each broken file gives a WeightFormatException naming the file and, where there is one, the tensor. */
    @Test
    void rejectsBrokenFilesWithOneLineErrors() throws IOException {
        String ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        byte[] eight = new byte[8];
        expectError("short.safetensors", new byte[5], "too short");
        expectError("huge.safetensors", ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(200_000_000).array(), "over the 100000000-byte limit");
        expectError("neg.safetensors", ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(-1).array(), "18446744073709551615");
        expectError("past.safetensors", ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(9).array(), "runs past the end");
        expectError("utf8.safetensors", new byte[]{8, 0, 0, 0, 0, 0, 0, 0, '{', '"', (byte) 0xc3, '"', ':', '1', '}', ' '}, "not valid UTF-8");
        expectError("json.safetensors", file("{\"a\":", eight), "not valid JSON");
        expectError("trailing.safetensors", file(ok + "x", eight), "not valid JSON");
        expectError("array.safetensors", file("[1,2]", new byte[0]), "not a JSON object");
        expectError("dup.safetensors", file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", eight), "Duplicate field 'a'");
        expectError("dtype.safetensors", file(ok.replace("F32", "F128"), eight), "tensor 'a': unknown or unsupported dtype 'F128'");
        expectError("u32.safetensors", file(ok.replace("F32", "U32"), eight), "tensor 'a': unknown or unsupported dtype 'U32'");
        expectError("dtype2.safetensors", file(ok.replace("\"F32\"", "4"), eight), "tensor 'a': dtype must be a string");
        expectError("missing.safetensors", file("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", eight), "tensor 'a': missing field 'shape'");
        expectError("notobj.safetensors", file("{\"a\":[0,8]}", eight), "tensor 'a': expected an object");
        expectError("shape.safetensors", file(ok.replace("[2]", "\"2\""), eight), "tensor 'a': shape must be an array");
        expectError("float.safetensors", file(ok.replace("[2]", "[2.0]"), eight), "tensor 'a': shape must hold integers");
        expectError("negdim.safetensors", file(ok.replace("[2]", "[-2]"), eight), "tensor 'a': negative dimension -2");
        expectError("bigdim.safetensors", file(ok.replace("[2]", "[4294967296]"), eight), "tensor 'a': dimension 4294967296 is too large");
        expectError("overflow.safetensors", file(ok.replace("[2]", "[2147483647,2147483647,2147483647]"), eight), "tensor 'a': shape [2147483647, 2147483647, 2147483647] has too many elements");
        expectError("size.safetensors", file(ok.replace("[2]", "[3]"), eight), "tensor 'a': F32 shape [3] needs 12 bytes but data_offsets [0, 8] span 8");
        expectError("offs3.safetensors", file(ok.replace("[0,8]", "[0,4,8]"), eight), "tensor 'a': data_offsets must be an array of two integers");
        expectError("offneg.safetensors", file(ok.replace("[0,8]", "[-8,0]"), eight), "tensor 'a': data_offsets value -8 is out of range");
        expectError("offbig.safetensors", file(ok.replace("[0,8]", "[0,18446744073709551616]"), eight), "data_offsets value 18446744073709551616 is out of range");
        expectError("gap.safetensors", file(ok.replace("[0,8]", "[4,12]"), new byte[12]), "tensor 'a': data_offsets [4, 12] do not continue from 0");
        expectError("reversed.safetensors", file(ok.replace("[0,8]", "[8,0]"), eight), "tensor 'a': data_offsets [8, 0] do not continue from 0");
        expectError("overlap.safetensors", file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", eight), "tensor 'b': data_offsets [4, 8] do not continue from 8");
        expectError("pastend.safetensors", file(ok, new byte[4]), "tensors cover 8 bytes but the data region after the header has 4");
        expectError("extra.safetensors", file(ok, new byte[12]), "tensors cover 8 bytes but the data region after the header has 12");
        expectError("meta.safetensors", file("{\"__metadata__\":{\"k\":1}}", new byte[0]), "__metadata__ 'k' must be a string, found number 1");
        expectError("meta2.safetensors", file("{\"__metadata__\":[\"k\"]}", new byte[0]), "__metadata__ must be an object of strings");
        expectError("name.safetensors", file(ok.replace("\"a\"", "\"a\\nb\"").replace("[2]", "[5]"), eight), "tensor 'a\\nb': F32 shape [5]");
    }

    /** Writes {@code bytes}, opens them, expects a one-line error naming the file and containing {@code expected}. */
    private void expectError(String name, byte[] bytes, String expected) throws IOException {
        Path p = write(name, bytes);
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> Safetensors.open(p).close(), name);
        assertTrue(e.getMessage().startsWith(p + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(expected), name + ": " + e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }

    @Test
    void folderAndMissingFileErrors() {
        assertThrows(WeightFormatException.class, () -> Safetensors.open(dir));
        assertThrows(java.nio.file.NoSuchFileException.class, () -> Safetensors.open(dir.resolve("nope.safetensors")));
    }

    // ---- sharded

    @Test
    void opensAShardedIndexAsOneStateDict() throws IOException {
        SafetensorsWriter.write(dir.resolve("m-00001-of-00002.safetensors"), Map.of("a", Tensor.of(new float[]{1, 2}, 2)), Map.of("format", "pt"));
        SafetensorsWriter.write(dir.resolve("m-00002-of-00002.safetensors"), Map.of("b", Tensor.ofLongs(new long[]{7}, 1), "c", Tensor.scalar(3)));
        Path index = write("m.safetensors.index.json", """
                {"metadata": {"total_size": 24},
                 "weight_map": {"a": "m-00001-of-00002.safetensors", "c": "m-00002-of-00002.safetensors", "b": "./m-00002-of-00002.safetensors"}}
                """.getBytes(StandardCharsets.UTF_8));
        try (Safetensors st = Safetensors.open(index)) {
            assertEquals(index.toString(), st.source());
            assertEquals(List.of("a", "c", "b"), List.copyOf(st.keys()));
            assertArrayEquals(new float[]{1, 2}, st.get("a").toFloatArray());
            assertEquals(7, st.get("b").getLongFlat(0));
            assertEquals(3f, st.get("c").item());
            assertEquals(Map.of("format", "pt"), st.metadata());
        }
    }

    @Test
    void rejectsInconsistentShardedIndexes() throws IOException {
        SafetensorsWriter.write(dir.resolve("s1.safetensors"), Map.of("a", Tensor.scalar(1)));
        SafetensorsWriter.write(dir.resolve("s2.safetensors"), Map.of("b", Tensor.scalar(2)));
        Path valid = write("ok.safetensors.index.json", "{\"weight_map\":{\"a\":\"s1.safetensors\"}}".getBytes(StandardCharsets.UTF_8));
        try (Safetensors st = Safetensors.open(valid)) { assertEquals(1f, st.get("a").item()); }
        expectIndexError("{\"weight_map\":{\"a\":\"s1.safetensors\",\"x\":\"s1.safetensors\"}}", "tensor 'x' is missing from its shard s1.safetensors");
        expectIndexError("{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\",\"c\":\"s2.safetensors\"}}", "shard s2.safetensors holds tensor 'b', which weight_map puts in s1.safetensors");
        expectIndexError("{\"weight_map\":{\"a\":\"s1.safetensors\",\"c\":\"s2.safetensors\"}}", "shard s2.safetensors holds tensor 'b', which weight_map does not list");
        expectIndexError("{\"weight_map\":{\"a\":\"../s1.safetensors\"}}", "points outside the index's folder");
        expectIndexError("{\"weight_map\":{\"a\":1}}", "weight_map entry 'a' must be a file name");
        expectIndexError("{\"weights\":{}}", "no 'weight_map' object");
        expectIndexError("{\"weight_map\":", "bad JSON");
        Path index = write("m.index.json", "{\"weight_map\":{\"a\":\"gone.safetensors\"}}".getBytes(StandardCharsets.UTF_8));
        assertThrows(java.nio.file.NoSuchFileException.class, () -> Safetensors.open(index));
    }

    private void expectIndexError(String json, String expected) throws IOException {
        Path index = write("m.safetensors.index.json", json.getBytes(StandardCharsets.UTF_8));
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> Safetensors.open(index).close());
        assertTrue(e.getMessage().startsWith(index + ": ") && e.getMessage().contains(expected), e.getMessage());
    }
}
