package dev.tornadodiffusion.weights.torch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Fixture files, and a minimal safetensors reader for the expected tensors (tests only). */
final class Fixtures {
    private Fixtures() { }

    static Path path(String relative) {
        return Path.of(System.getProperty("fixtures.dir", "../testdata/fixtures")).resolve(relative);
    }

    static JsonNode json(String relative) throws IOException {
        return new ObjectMapper().readTree(path(relative).toFile());
    }

    /** Every tensor of a safetensors file, copied to the heap. */
    static Map<String, Tensor> safetensors(String relative) throws IOException {
        byte[] file = Files.readAllBytes(path(relative));
        int headerLength = (int) ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        JsonNode header = new ObjectMapper().readTree(Arrays.copyOfRange(file, 8, 8 + headerLength));
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (var e : header.properties()) {
            if (e.getKey().equals("__metadata__")) continue;
            JsonNode t = e.getValue();
            int[] shape = new int[t.get("shape").size()];
            for (int i = 0; i < shape.length; i++) shape[i] = t.get("shape").get(i).asInt();
            int begin = 8 + headerLength + t.get("data_offsets").get(0).asInt(), end = 8 + headerLength + t.get("data_offsets").get(1).asInt();
            MemorySegment data = MemorySegment.ofArray(Arrays.copyOfRange(file, begin, end));
            out.put(e.getKey(), Tensor.wrap(data, DType.fromSafetensors(t.get("dtype").asText()), shape));
        }
        return out;
    }

    /** Same shape and bitwise the same values (integers compared exactly, floats by their F32 widening). */
    static void assertSameTensor(String key, Tensor expected, Tensor actual) {
        assertArrayEquals(expected.shape(), actual.shape(), key + " shape");
        for (long i = 0; i < expected.numel(); i++) {
            if (expected.dtype().floating)
                assertEquals(Float.floatToRawIntBits(expected.getFlat(i)), Float.floatToRawIntBits(actual.getFlat(i)), key + " element " + i);
            else
                assertEquals(expected.getLongFlat(i), actual.getLongFlat(i), key + " element " + i);
        }
    }
}
