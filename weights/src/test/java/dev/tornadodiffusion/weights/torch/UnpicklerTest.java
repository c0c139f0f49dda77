package dev.tornadodiffusion.weights.torch;

import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.weights.WeightFormatException;
import dev.tornadodiffusion.weights.torch.TorchPickle.TensorRef;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class UnpicklerTest {

    /** Pickle bytes from parts: a String is its latin-1 bytes, an Integer one byte. */
    static byte[] pickle(Object... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Object p : parts) {
            if (p instanceof String s) out.writeBytes(s.getBytes(StandardCharsets.ISO_8859_1));
            else out.write((Integer) p);
        }
        return out.toByteArray();
    }

    static Object load(byte[] pickle) {
        return new Unpickler("test.pkl", null, MemorySegment.ofArray(pickle), 0, new TorchPickle("test.pkl")).load();
    }

    static String refusal(byte[] pickle) {
        return assertThrows(WeightFormatException.class, () -> load(pickle)).getMessage();
    }

    @Test
    void protocol0TextOpcodes() {
        Object v = load(pickle("(lp0\nI1\naI00\naF1.5\naF-inf\naS'a\\'b\\x41\\n'\np1\naV\\u00e9x\naL123456789012345678901L\nag1\na."));
        assertEquals(Arrays.asList(1L, false, 1.5, Double.NEGATIVE_INFINITY, "a'bA\n", "\u00e9x", new BigInteger("123456789012345678901"), "a'bA\n"), v);
    }

    @Test
    void protocol2BinaryOpcodes() {
        // {'a': (-1 as LONG1, 2**31-1 as BININT, 0.1 as big-endian BINFLOAT), 'b': [True, None], 'c': b'xy', 'd': memo of 'a'}
        byte[] p = pickle(0x80, 2, "}(X", 1, 0, 0, 0, "a", 0x8a, 1, 0xff, "J", 0xff, 0xff, 0xff, 0x7f,
                "G", 0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a, 0x87, "q", 0,
                "X", 1, 0, 0, 0, "b](", 0x88, "Ne", "X", 1, 0, 0, 0, "cC", 2, "xy", "X", 1, 0, 0, 0, "dh", 0, "u.");
        Map<?, ?> d = assertInstanceOf(Map.class, load(p));
        assertEquals(List.of(-1L, 2147483647L, 0.1), d.get("a"));
        assertEquals(Arrays.asList(true, null), d.get("b"));
        assertArrayEquals("xy".getBytes(StandardCharsets.US_ASCII), (byte[]) d.get("c"));
        assertSame(d.get("a"), d.get("d"));
    }

    @Test
    void protocol4FramesMemoizeAndStackGlobal() {
        // FRAME, then OrderedDict via STACK_GLOBAL + EMPTY_TUPLE + REDUCE, MEMOIZE'd and fetched back with BINGET
        byte[] body = pickle(0x8c, 11, "collections", 0x94, 0x8c, 11, "OrderedDict", 0x94, 0x93, 0x94, ")R", 0x94,
                0x8c, 1, "k", 0x94, 0x8c, 3, "val", 0x94, "s", "h", 3, 0x86, ".");
        byte[] p = pickle(0x80, 4, 0x95, body.length, 0, 0, 0, 0, 0, 0, 0);
        byte[] all = Arrays.copyOf(p, p.length + body.length);
        System.arraycopy(body, 0, all, p.length, body.length);
        List<?> pair = assertInstanceOf(List.class, load(all));
        assertEquals(Map.of("k", "val"), pair.get(0));
        assertSame(pair.get(0), pair.get(1));
    }

    @Test
    void setsAndFrozensets() {
        Object v = load(pickle(0x80, 4, 0x8f, "(K", 1, "K", 2, 0x90, "(K", 3, 0x91, 0x86, "."));
        assertEquals(Arrays.asList(Set.of(1L, 2L), Set.of(3L)), v);
    }

    @Test
    void bytesFromCodecsEncodeAndTorchDtypes() {
        Object v = load(pickle(0x80, 2, "c_codecs\nencode\nX", 3, 0, 0, 0, 0xc3, 0xbf, 1, "X", 6, 0, 0, 0, "latin1", 0x86, "R", "ctorch\nbfloat16\n", 0x86, "."));
        List<?> t = (List<?>) v;
        assertArrayEquals(new byte[]{(byte) 0xff, 1}, (byte[]) t.get(0));
        assertEquals(DType.BF16, t.get(1));
    }

    @Test
    void rebuildsTensorsAndParametersAsDescriptions() {
        String storage = "((X\u0007\0\0\0storagectorch\nHalfStorage\nX\u0001\0\0\0" + "7X\u0003\0\0\0cpuK\u000ctQ";
        byte[] p = pickle(0x80, 2, "ctorch._utils\n_rebuild_parameter\n(ctorch._utils\n_rebuild_tensor_v2\n" + storage
                + "K\u0002K\u0002K\u0003\u0086K\u0001K\u0002\u0086\u0089ccollections\nOrderedDict\n)RtR\u0088ccollections\nOrderedDict\n)RtR.");
        TensorRef t = assertInstanceOf(TensorRef.class, load(p));
        assertArrayEquals(new int[]{2, 3}, t.size());
        assertArrayEquals(new long[]{1, 2}, t.stride());
        assertEquals(2, t.offset());
        assertEquals(DType.F16, t.view().storage().type().dtype());
        assertEquals("7", t.view().storage().key());
    }

    @Test
    void refusesEveryWayOfNamingOrCallingCode() {
        assertTrue(refusal(pickle("cos\nsystem\n(S'true'\ntR.")).contains("'os.system'"));
        assertTrue(refusal(pickle(0x80, 4, 0x8c, 8, "builtins", 0x8c, 4, "exec", 0x93, ".")).contains("'builtins.exec'"));
        assertTrue(refusal(pickle("(S'true'\nios\nsystem\n.")).contains("'os.system'"));
        assertTrue(refusal(pickle("(ccollections\nOrderedDict\no.")).contains("OBJ"));
        assertTrue(refusal(pickle("(icollections\nOrderedDict\n.")).contains("INST"));
        assertTrue(refusal(pickle(0x80, 2, 0x82, 1, ".")).contains("EXT"));
        assertTrue(refusal(pickle(0x80, 5, 0x97, ".")).contains("out-of-band"));
        assertTrue(refusal(pickle("ctorch\nload\n.")).contains("'torch.load'"));
        assertTrue(refusal(pickle("ctorch.storage\n_load_from_bytes\n.")).contains("'torch.storage._load_from_bytes'"));
        // calling an allowed non-function, or REDUCE on a plain value
        assertTrue(refusal(pickle("ctorch\nFloatStorage\n)R.")).contains("refused call of torch.FloatStorage"));
        assertTrue(refusal(pickle("X\u0001\0\0\0a)R.")).contains("refused call of str"));
        assertTrue(refusal(pickle("]}b.")).contains("refused BUILD of list"));
        assertTrue(refusal(pickle("Pabc\n.")).contains("persistent id"));
    }

    @Test
    void hostileSizesAreRefusedBeforeAnythingIsAllocated() {
        assertTrue(refusal(pickle("X", 0, 0, 1, 0, "abc.")).contains("truncated"));
        assertTrue(refusal(pickle(0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, ".")).contains("longer than"));
        assertTrue(refusal(pickle(0x8b, 0, 0, 0, 0x40, ".")).contains("int of"));
        assertTrue(refusal(pickle(0x80, 4, 0x95, 0, 0, 0, 0, 0, 0, 0, 0x40, ".")).contains("truncated"));
        assertTrue(refusal(pickle("(".repeat(Unpickler.MAX_STACK + 1) + ".")).contains("open marks"));
        assertTrue(refusal(pickle("N".repeat(Unpickler.MAX_STACK + 1) + ".")).contains("stack deeper"));
        assertTrue(refusal(pickle("]q", 0, "h", 0, "a}", "h", 0, "K", 1, "s.")).contains("as dict key"));
    }

    @Test
    void malformedStreamsAreRefused() {
        assertTrue(refusal(pickle("")).contains("truncated"));
        assertTrue(refusal(pickle(".")).contains("stack underflow"));
        assertTrue(refusal(pickle("t.")).contains("no MARK"));
        assertTrue(refusal(pickle("h", 5, ".")).contains("memo has no entry 5"));
        assertTrue(refusal(pickle(0x80, 9, ".")).contains("protocol 9"));
        assertTrue(refusal(pickle("Nq", 0, "K", 1, "a.")).contains("APPEND needs a list, found None"));
        assertTrue(refusal(pickle("Ffoo\n.")).contains("float"));
        assertTrue(refusal(pickle("X", 2, 0, 0, 0, 0xc3, 0x28, ".")).contains("UTF-8"));
        assertTrue(refusal(pickle(0xfe, ".")).contains("unknown opcode 0xfe"));
        String m = refusal(pickle("K", 1, "K", 2, "t."));
        assertTrue(m.startsWith("test.pkl: bad pickle at byte 4: "), m);
    }

    @Test
    void ordersDictItemsAsWritten() {
        Object v = load(pickle("}(X", 1, 0, 0, 0, "bK", 1, "X", 1, 0, 0, 0, "aK", 2, "u."));
        assertEquals(List.of("b", "a"), List.copyOf(((LinkedHashMap<?, ?>) v).keySet()));
    }
}
