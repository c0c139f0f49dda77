package dev.tornadodiffusion.diffusion;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.StateDict;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** A small fixture safetensors file read whole into memory (the tests' stand-in for the weights module's reader). */
public final class FixtureFile implements StateDict {
    private final String source;
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();

    private FixtureFile(Path file) throws IOException {
        this.source = file.toString();
        byte[] bytes = Files.readAllBytes(file);
        long headerLength = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        JsonNode header = new ObjectMapper().readTree(new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8));
        MemorySegment data = MemorySegment.ofArray(bytes).asSlice(8 + headerLength);
        for (Map.Entry<String, JsonNode> e : header.properties()) {
            if (e.getKey().equals("__metadata__")) continue;
            JsonNode t = e.getValue();
            int[] shape = new int[t.get("shape").size()];
            for (int i = 0; i < shape.length; i++) shape[i] = t.get("shape").get(i).intValue();
            long start = t.get("data_offsets").get(0).longValue(), end = t.get("data_offsets").get(1).longValue();
            tensors.put(e.getKey(), Tensor.wrap(data.asSlice(start, end - start), DType.fromSafetensors(t.get("dtype").asText()), shape));
        }
    }

    public static FixtureFile open(Path file) throws IOException {
        return new FixtureFile(file);
    }

    /** The fixtures folder surefire passes in {@code fixtures.dir}. */
    public static Path fixtures() {
        return Path.of(System.getProperty("fixtures.dir", "../testdata/fixtures"));
    }

    @Override
    public String source() {
        return source;
    }

    @Override
    public Set<String> keys() {
        return tensors.keySet();
    }

    @Override
    public Tensor get(String key) {
        Tensor t = tensors.get(key);
        if (t == null) throw new IllegalArgumentException(source + ": no tensor " + key);
        return t;
    }
}
