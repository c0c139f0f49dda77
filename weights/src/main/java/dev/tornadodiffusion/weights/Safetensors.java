package dev.tornadodiffusion.weights;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * safetensors weights as a {@link StateDict}: one {@code .safetensors} file or a sharded checkpoint's
 * {@code *.safetensors.index.json}. Files are memory-mapped read-only and every tensor is a zero-copy view of
 * its bytes, valid until {@link #close()}.
 * <p>
 * Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * ({@code {"__metadata__": {...}, "name": {"dtype": "F16", "shape": [..], "data_offsets": [begin, end]}, ...}}),
 * then the data region. The header is validated as the reference (Rust {@code safetensors} crate) does: offsets
 * relative to the data region, tensors tiling it in offset order with no gap or overlap, each span exactly the
 * shape's byte size, and nothing after the last tensor.
 */
public final class Safetensors implements StateDict {
    /** The reference implementation's limit on the JSON header. */
    public static final long MAX_HEADER_SIZE = 100_000_000;

    private static final ObjectMapper HEADER_JSON = JsonMapper.builder(JsonFactory.builder()
                    .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                    .streamReadConstraints(StreamReadConstraints.builder()
                            .maxStringLength((int) MAX_HEADER_SIZE).maxNameLength((int) MAX_HEADER_SIZE).build())
                    .build())
            .build();
    private static final ValueLayout.OfLong U64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final String source;
    private final Arena arena;
    private final Map<String, Tensor> tensors;
    private final Map<String, String> metadata;
    private boolean closed;

    private Safetensors(String source, Arena arena, Map<String, Tensor> tensors, Map<String, String> metadata) {
        this.source = source;
        this.arena = arena;
        this.tensors = Collections.unmodifiableMap(tensors);
        this.metadata = Collections.unmodifiableMap(metadata);
    }

    /**
     * Opens a {@code .safetensors} file (tensors in header order) or, for a name ending in {@code .json}, a sharded
     * index whose {@code weight_map} names each tensor's file (tensors in weight_map order; metadata of the first
     * shard in name order, as transformers reads it).
     */
    public static Safetensors open(Path path) throws IOException {
        if (Files.isDirectory(path)) throw new WeightFormatException(path + ": is a folder, not a safetensors file");
        if (path.getFileName().toString().endsWith(".json")) return openIndex(path);
        Arena arena = Arena.ofShared();
        try {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            Map<String, String> metadata = map(path, arena, tensors);
            return new Safetensors(path.toString(), arena, tensors, metadata);
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    @Override public String source() { return source; }

    @Override public Set<String> keys() { return tensors.keySet(); }

    @Override public Map<String, String> metadata() { return metadata; }

    @Override
    public Tensor get(String key) {
        if (closed) throw new IllegalStateException(source + ": already closed");
        Tensor t = tensors.get(key);
        if (t == null) throw new WeightFormatException(source + ": no tensor " + WeightFormatException.quote(key));
        return t;
    }

    /** Unmaps the files: tensors from this state dict must not be used afterwards. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        arena.close();
    }

    // ---- one file

    private record Entry(String name, DType dtype, int[] shape, long begin, long end) {}

    /** Maps {@code file} into {@code arena}, validates its header, adds its tensors to {@code into} and returns its {@code __metadata__}. */
    private static Map<String, String> map(Path file, Arena arena, Map<String, Tensor> into) throws IOException {
        MemorySegment whole;
        try (FileChannel ch = FileChannel.open(file)) {
            long size = ch.size();
            if (size < 8) throw fail(file, "file is " + size + " bytes, too short for the 8-byte header length");
            whole = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
        }
        long size = whole.byteSize();
        long n = whole.get(U64_LE, 0);
        if (n < 0 || n > MAX_HEADER_SIZE)
            throw fail(file, "header length " + Long.toUnsignedString(n) + " is over the " + MAX_HEADER_SIZE + "-byte limit");
        if (8 + n > size) throw fail(file, "header length " + n + " runs past the end of the " + size + "-byte file");

        Map<String, String> metadata = new LinkedHashMap<>();
        List<Entry> entries = parseHeader(file, whole.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE), metadata);
        List<Entry> byOffset = new ArrayList<>(entries);
        byOffset.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long dataSize = size - 8 - n, next = 0;
        for (Entry e : byOffset) {
            if (e.begin != next || e.end < e.begin)
                throw fail(file, tensor(e.name) + "data_offsets [" + e.begin + ", " + e.end + "] do not continue from " + next
                        + " (tensors must cover the data region in order, without gaps or overlaps)");
            long bytes = byteSize(e);
            if (bytes < 0) throw fail(file, tensor(e.name) + "shape " + Arrays.toString(e.shape) + " has too many elements");
            if (e.end - e.begin != bytes)
                throw fail(file, tensor(e.name) + e.dtype + " shape " + Arrays.toString(e.shape) + " needs " + bytes + " bytes but data_offsets ["
                        + e.begin + ", " + e.end + "] span " + (e.end - e.begin));
            next = e.end;
        }
        if (next != dataSize)
            throw fail(file, "tensors cover " + next + " bytes but the data region after the header has " + dataSize);
        for (Entry e : entries) into.put(e.name, Tensor.wrap(whole.asSlice(8 + n + e.begin, e.end - e.begin), e.dtype, e.shape));
        return metadata;
    }

    /** Bytes the tensor's shape and dtype need, or -1 on overflow (checked in the reference's order). */
    private static long byteSize(Entry e) {
        try {
            long n = 1;
            for (int d : e.shape) n = Math.multiplyExact(n, d);
            return Math.multiplyExact(n, e.dtype.byteSize);
        } catch (ArithmeticException x) {
            return -1;
        }
    }

    private static List<Entry> parseHeader(Path file, byte[] header, Map<String, String> metadata) throws IOException {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(header)).toString();
        } catch (CharacterCodingException e) {
            throw fail(file, "header is not valid UTF-8");
        }
        JsonNode root;
        try {
            root = Json.tree(HEADER_JSON, text);
        } catch (JacksonException e) {
            throw fail(file, "header is not valid JSON: " + Json.describe(e));
        }
        if (root == null || !root.isObject()) throw fail(file, "header is not a JSON object");
        List<Entry> entries = new ArrayList<>();
        for (Map.Entry<String, JsonNode> field : root.properties()) {
            if (field.getKey().equals("__metadata__")) readMetadata(file, field.getValue(), metadata);
            else entries.add(entry(file, field.getKey(), field.getValue()));
        }
        return entries;
    }

    private static void readMetadata(Path file, JsonNode node, Map<String, String> into) {
        if (node.isNull()) return;
        if (!node.isObject()) throw fail(file, "__metadata__ must be an object of strings, found " + kind(node));
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (!e.getValue().isTextual())
                throw fail(file, "__metadata__ " + WeightFormatException.quote(e.getKey()) + " must be a string, found " + kind(e.getValue()));
            into.put(e.getKey(), e.getValue().textValue());
        }
    }

    private static Entry entry(Path file, String name, JsonNode node) {
        if (!node.isObject()) throw fail(file, tensor(name) + "expected an object with dtype, shape and data_offsets, found " + kind(node));
        JsonNode dt = node.get("dtype"), sh = node.get("shape"), off = node.get("data_offsets");
        if (dt == null || sh == null || off == null)
            throw fail(file, tensor(name) + "missing field '" + (dt == null ? "dtype" : sh == null ? "shape" : "data_offsets") + "'");
        if (!dt.isTextual()) throw fail(file, tensor(name) + "dtype must be a string, found " + kind(dt));
        DType dtype = DType.fromSafetensors(dt.textValue());
        if (dtype == null)
            throw fail(file, tensor(name) + "unknown or unsupported dtype " + WeightFormatException.quote(dt.textValue()) + " (supported: "
                    + String.join(", ", Arrays.stream(DType.values()).map(d -> d.safetensorsName).toList()) + ")");
        if (!sh.isArray()) throw fail(file, tensor(name) + "shape must be an array of integers, found " + kind(sh));
        int[] shape = new int[sh.size()];
        for (int i = 0; i < shape.length; i++) {
            BigInteger d = integer(file, name, "shape", sh.get(i));
            if (d.signum() < 0) throw fail(file, tensor(name) + "negative dimension " + d + " in shape");
            if (d.bitLength() > 31) throw fail(file, tensor(name) + "dimension " + d + " is too large (the limit is " + Integer.MAX_VALUE + ")");
            shape[i] = d.intValue();
        }
        if (!off.isArray() || off.size() != 2) throw fail(file, tensor(name) + "data_offsets must be an array of two integers, found " + kind(off));
        long[] range = new long[2];
        for (int i = 0; i < 2; i++) {
            BigInteger o = integer(file, name, "data_offsets", off.get(i));
            if (o.signum() < 0 || o.bitLength() > 63) throw fail(file, tensor(name) + "data_offsets value " + o + " is out of range");
            range[i] = o.longValue();
        }
        return new Entry(name, dtype, shape, range[0], range[1]);
    }

    private static BigInteger integer(Path file, String name, String field, JsonNode n) {
        if (!n.isIntegralNumber()) throw fail(file, tensor(name) + field + " must hold integers, found " + kind(n));
        return n.bigIntegerValue();
    }

    private static String tensor(String name) {
        return "tensor " + WeightFormatException.quote(name) + ": ";
    }

    private static String kind(JsonNode n) {
        return n.isNull() ? "null" : n.isValueNode() ? n.getNodeType().toString().toLowerCase() + " " + WeightFormatException.oneLine(n.toString(), 40)
                : n.getNodeType().toString().toLowerCase();
    }

    private static WeightFormatException fail(Path file, String problem) {
        return new WeightFormatException(file + ": " + problem);
    }

    // ---- sharded checkpoints

    private static Safetensors openIndex(Path index) throws IOException {
        JsonNode root = Json.read(index);
        JsonNode weightMap = root.get("weight_map");
        if (weightMap == null || !weightMap.isObject()) throw fail(index, "no 'weight_map' object");
        Path dir = index.toAbsolutePath().normalize().getParent();
        Map<String, Path> shardOf = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : weightMap.properties()) {
            String key = WeightFormatException.quote(e.getKey());
            if (!e.getValue().isTextual()) throw fail(index, "weight_map entry " + key + " must be a file name, found " + kind(e.getValue()));
            Path shard = dir.resolve(e.getValue().textValue()).normalize();
            if (!shard.startsWith(dir) || shard.equals(dir))
                throw fail(index, "weight_map entry " + key + " points outside the index's folder: " + WeightFormatException.quote(e.getValue().textValue()));
            shardOf.put(e.getKey(), shard);
        }
        Arena arena = Arena.ofShared();
        try {
            Map<String, Tensor> loaded = new LinkedHashMap<>();
            Map<String, String> metadata = null;
            for (Path shard : new TreeSet<>(shardOf.values())) {
                Map<String, Tensor> part = new LinkedHashMap<>();
                Map<String, String> m = map(shard, arena, part);
                if (metadata == null) metadata = m;
                for (Map.Entry<String, Tensor> e : part.entrySet()) {
                    Path listed = shardOf.get(e.getKey());
                    if (!shard.equals(listed))
                        throw fail(index, "shard " + shard.getFileName() + " holds tensor " + WeightFormatException.quote(e.getKey())
                                + (listed == null ? ", which weight_map does not list" : ", which weight_map puts in " + listed.getFileName()));
                    loaded.put(e.getKey(), e.getValue());
                }
            }
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (Map.Entry<String, Path> e : shardOf.entrySet()) {
                Tensor t = loaded.get(e.getKey());
                if (t == null) throw fail(index, "tensor " + WeightFormatException.quote(e.getKey()) + " is missing from its shard " + e.getValue().getFileName());
                tensors.put(e.getKey(), t);
            }
            return new Safetensors(index.toString(), arena, tensors, metadata == null ? Map.of() : metadata);
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }
}
