package dev.tornadodiffusion.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Thousands of files mutated from a small valid one (bit flips, truncations, header length edits, edits of
 * dtypes/shapes/offsets/metadata in the JSON, raw text edits, random JSON): opening one and reading every element
 * of every tensor either works or throws {@link WeightFormatException} with a one-line message; nothing else.
 */
class SafetensorsFuzzTest {
    private static final int ROUNDS = 4000;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    @TempDir Path dir;

    @Test
    void mutatedFilesOpenOrFailWithAWeightFormatException() throws IOException {
        byte[] valid = validFile();
        Random rnd = new Random(20240611);
        Path p = dir.resolve("fuzz.safetensors");
        int opened = 0;
        // one file rewritten in place: truncating a file to zero before each write is slow on ext4
        try (RandomAccessFile out = new RandomAccessFile(p.toFile(), "rw")) {
            for (int round = 0; round < ROUNDS; round++) {
                int kind = round % 7;
                byte[] bytes = mutate(valid, kind, rnd);
                out.setLength(bytes.length);
                out.seek(0);
                out.write(bytes);
                if (openAndReadAll(p, "round " + round + " (mutation " + kind + "): " + new String(bytes, 0, Math.min(bytes.length, 300), StandardCharsets.ISO_8859_1)))
                    opened++;
            }
        }
        assertTrue(opened > ROUNDS / 50 && opened < ROUNDS / 2, "opened " + opened + " of " + ROUNDS);
    }

    /** True when {@code p} opens and every element reads; false for a one-line WeightFormatException; anything else fails the test. */
    private static boolean openAndReadAll(Path p, String what) {
        try (Safetensors st = Safetensors.open(p)) {
            for (String k : st.keys()) {
                Tensor t = st.get(k);
                for (long i = 0; i < t.numel(); i++) t.getFlat(i);
            }
            return true;
        } catch (WeightFormatException e) {
            assertTrue(e.getMessage().startsWith(p + ": ") && !e.getMessage().contains("\n") && e.getMessage().length() < 1000, e.getMessage());
            return false;
        } catch (IOException | RuntimeException | Error e) {
            throw new AssertionError(what + " threw " + e, e);
        }
    }

    /** A small valid file: several dtypes, a scalar, an empty tensor, metadata. */
    private byte[] validFile() throws IOException {
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("w", Tensor.of(new float[]{1, 2, 3, 4, 5, 6}, 2, 3));
        t.put("h", Tensor.of(new float[]{0.5f, -1, 2, 7}, 4).to(DType.F16));
        t.put("b", Tensor.of(new float[]{1, -2}, 2).to(DType.BF16));
        t.put("ids", Tensor.ofLongs(new long[]{3, 1 << 20}, 2));
        t.put("d", Tensor.of(new float[]{9}).to(DType.F64));
        t.put("mask", Tensor.of(new float[]{1, 0, 1}, 3).to(DType.BOOL));
        t.put("q", Tensor.of(new float[]{-3, 4}, 2).to(DType.I8));
        t.put("s", Tensor.scalar(0.25f));
        t.put("none", Tensor.zeros(0, 5));
        Path f = dir.resolve("valid.safetensors");
        SafetensorsWriter.write(f, t, Map.of("format", "pt"));
        return Files.readAllBytes(f);
    }

    private static byte[] mutate(byte[] valid, int kind, Random rnd) throws IOException {
        int n = (int) ByteBuffer.wrap(valid).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        byte[] out = valid.clone();
        switch (kind) {
            case 0 -> {   // bit flips, mostly in the header
                for (int i = 0, flips = 1 + rnd.nextInt(4); i < flips; i++) {
                    int at = rnd.nextInt(5) == 0 ? rnd.nextInt(out.length) : rnd.nextInt(8 + n);
                    out[at] ^= (byte) (1 << rnd.nextInt(8));
                }
            }
            case 1 -> {   // truncation or extension
                if (rnd.nextBoolean()) out = Arrays.copyOf(valid, rnd.nextInt(valid.length));
                else {
                    out = Arrays.copyOf(valid, valid.length + 1 + rnd.nextInt(16));
                    for (int i = valid.length; i < out.length; i++) out[i] = (byte) rnd.nextInt();
                }
            }
            case 2 -> {   // header length field
                long[] lengths = {0, 1, 2, n - 1, n + 1, n - 8, n + 8, valid.length, valid.length - 8, -1, Long.MIN_VALUE,
                        Long.MAX_VALUE, 100_000_000, 100_000_001, 1L << 32, rnd.nextLong(), rnd.nextInt(valid.length)};
                ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putLong(0, lengths[rnd.nextInt(lengths.length)]);
            }
            case 3 -> out = withHeader(valid, n, editJson((ObjectNode) JSON.readTree(new String(valid, 8, n, StandardCharsets.UTF_8)), rnd).toString(), rnd);
            case 4 -> out = withHeader(valid, n, editText(new String(valid, 8, n, StandardCharsets.UTF_8), rnd), rnd);
            case 5 -> {   // random JSON as the header, random data
                byte[] data = new byte[rnd.nextInt(48)];
                rnd.nextBytes(data);
                out = file(randomJson(rnd, 0).toString(), data, rnd.nextInt(4) == 0);
            }
            default -> {  // several JSON edits at once
                ObjectNode h = (ObjectNode) JSON.readTree(new String(valid, 8, n, StandardCharsets.UTF_8));
                for (int i = 0, edits = 2 + rnd.nextInt(3); i < edits; i++) h = editJson(h, rnd);
                out = withHeader(valid, n, h.toString(), rnd);
            }
        }
        return out;
    }

    /** The valid file's data behind a new header; sometimes a few data bytes are dropped or added. */
    private static byte[] withHeader(byte[] valid, int n, String header, Random rnd) {
        byte[] data = Arrays.copyOfRange(valid, 8 + n, valid.length);
        if (rnd.nextInt(8) == 0) data = Arrays.copyOf(data, Math.max(0, data.length + rnd.nextInt(9) - 4));
        return file(header, data, rnd.nextInt(10) == 0);
    }

    private static byte[] file(String header, byte[] data, boolean wrongLength) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        return b.putLong(wrongLength ? h.length + 3 : h.length).put(h).put(data).array();
    }

    private static ObjectNode editJson(ObjectNode header, Random rnd) {
        List<String> names = new ArrayList<>();
        header.fieldNames().forEachRemaining(names::add);
        String name = names.get(rnd.nextInt(names.size()));
        JsonNode entry = header.get(name);
        switch (rnd.nextInt(8)) {
            case 0 -> header.set(name, randomJson(rnd, 2));
            case 1 -> header.remove(name);
            case 2 -> header.set(names.get(rnd.nextInt(names.size())) + (rnd.nextBoolean() ? "" : "x"), entry.deepCopy());
            default -> {
                if (!(entry instanceof ObjectNode o)) return header;
                if (name.equals("__metadata__")) {
                    o.set(rnd.nextBoolean() ? "format" : "k" + rnd.nextInt(3), randomJson(rnd, 3));
                    return header;
                }
                String[] fields = {"dtype", "shape", "data_offsets", "extra"};
                String field = fields[rnd.nextInt(fields.length)];
                switch (rnd.nextInt(4)) {
                    case 0 -> o.remove(field);
                    case 1 -> o.set(field, randomJson(rnd, 2));
                    default -> o.set(field, switch (field) {
                        case "dtype" -> NODES.textNode(randomDtype(rnd));
                        case "shape" -> integers(rnd, rnd.nextInt(5));
                        case "data_offsets" -> integers(rnd, rnd.nextInt(10) == 0 ? rnd.nextInt(4) : 2);
                        default -> NODES.numberNode(1);
                    });
                }
            }
        }
        return header;
    }

    private static String randomDtype(Random rnd) {
        String[] names = {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2",
                "U16", "U32", "U64", "C64", "F4", "f32", "", "F32 "};
        return names[rnd.nextInt(names.length)];
    }

    private static ArrayNode integers(Random rnd, int count) {
        ArrayNode a = NODES.arrayNode();
        BigInteger[] special = {BigInteger.ZERO, BigInteger.ONE, BigInteger.valueOf(-1), BigInteger.valueOf(Integer.MAX_VALUE),
                BigInteger.valueOf(Integer.MAX_VALUE).add(BigInteger.ONE), BigInteger.valueOf(Long.MAX_VALUE),
                BigInteger.ONE.shiftLeft(64), BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE), BigInteger.ONE.shiftLeft(200)};
        for (int i = 0; i < count; i++)
            a.add(rnd.nextInt(3) == 0 ? NODES.numberNode(special[rnd.nextInt(special.length)]) : NODES.numberNode(rnd.nextInt(80) - 4));
        return a;
    }

    private static JsonNode randomJson(Random rnd, int depth) {
        int pick = rnd.nextInt(depth >= 4 ? 5 : 7);
        return switch (pick) {
            case 0 -> NODES.nullNode();
            case 1 -> NODES.booleanNode(rnd.nextBoolean());
            case 2 -> NODES.numberNode(rnd.nextInt(100) - 10);
            case 3 -> NODES.numberNode(rnd.nextDouble() * 1e6);
            case 4 -> NODES.textNode(rnd.nextBoolean() ? randomDtype(rnd) : "s" + rnd.nextInt(10));
            case 5 -> {
                ArrayNode a = NODES.arrayNode();
                for (int i = 0, k = rnd.nextInt(4); i < k; i++) a.add(randomJson(rnd, depth + 1));
                yield a;
            }
            default -> {
                ObjectNode o = NODES.objectNode();
                String[] keys = {"dtype", "shape", "data_offsets", "__metadata__", "a", "b"};
                for (int i = 0, k = rnd.nextInt(4); i < k; i++) o.set(keys[rnd.nextInt(keys.length)], randomJson(rnd, depth + 1));
                yield o;
            }
        };
    }

    /** Character-level edits: replace, delete or insert structural characters and digits, or repeat a slice. */
    private static String editText(String header, Random rnd) {
        StringBuilder sb = new StringBuilder(header);
        String alphabet = "{}[]\",:0123456789-.eE \\u";
        for (int i = 0, edits = 1 + rnd.nextInt(3); i < edits && !sb.isEmpty(); i++) {
            int at = rnd.nextInt(sb.length());
            char c = alphabet.charAt(rnd.nextInt(alphabet.length()));
            switch (rnd.nextInt(4)) {
                case 0 -> sb.setCharAt(at, c);
                case 1 -> sb.deleteCharAt(at);
                case 2 -> sb.insert(at, c);
                default -> {
                    int end = Math.min(sb.length(), at + rnd.nextInt(80));
                    sb.insert(end, sb.substring(at, end));
                }
            }
        }
        return sb.toString();
    }
}
