package dev.tornadodiffusion.weights.torch;

import dev.tornadodiffusion.weights.WeightFormatException;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A restricted pickle reader (protocols 0 to 5) that only ever builds plain data: None (null), bool,
 * int (Long, or BigInteger beyond 64 bits), float (Double), str (String), bytes (byte[]), list (ArrayList),
 * tuple (fixed-size List), dict (LinkedHashMap) and set (LinkedHashSet). What GLOBAL, REDUCE, NEWOBJ, BUILD
 * and persistent ids mean is up to a {@link Resolver}: nothing the file names is imported, instantiated or
 * called. Hostile input cannot exhaust memory or time: every length is checked against the bytes that
 * are left, stack, memo, strings and ints are bounded, and each opcode does work linear in what it reads.
 */
final class Unpickler {
    static final int MAX_STACK = 1 << 20;        // stack items and open marks, each
    static final int MAX_MEMO = 1 << 22;
    static final int MAX_STRING = 64 << 20;      // bytes of one str, bytes object or text line
    static final int MAX_INT_BYTES = 4096;       // bytes (LONG1/LONG4) or digits (INT/LONG) of one int
    static final int MAX_OBJECTS = 1 << 22;      // values built by one pickle: bounds the heap it can take

    /** Gives meaning to the opcodes that name, call or refer to something outside the pickle. */
    interface Resolver {
        /** GLOBAL / STACK_GLOBAL / INST: a value standing for {@code module.name}, or a refusal. */
        Object global(String module, String name);

        /** REDUCE: {@code callable(*args)}. */
        Object call(Object callable, List<Object> args);

        /** NEWOBJ / NEWOBJ_EX: {@code cls.__new__(cls, *args)}. */
        Object newObject(Object cls, List<Object> args);

        /** BUILD: {@code object.__setstate__(state)}; returns what replaces the object on the stack. */
        Object build(Object object, Object state);

        /** PERSID / BINPERSID. */
        Object persistentLoad(Object pid);
    }

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfDouble F64_BE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private final String source, record;
    private final MemorySegment in;
    private final Resolver resolver;
    private long pos, opStart;
    private Object[] stack = new Object[64];
    private int size;
    private int[] marks = new int[16];   // stack sizes at each open MARK
    private int markCount;
    private int built;
    private final HashMap<Long, Object> memo = new HashMap<>();

    /** Reads pickles from {@code in} starting at {@code pos}; {@code record} names the part of the file in messages, or is null. */
    Unpickler(String source, String record, MemorySegment in, long pos, Resolver resolver) {
        this.source = source;
        this.record = record;
        this.in = in;
        this.pos = pos;
        this.resolver = resolver;
    }

    /** The byte after the last STOP read. */
    long position() { return pos; }

    /** Runs the pickle at the current position up to its STOP and returns its object. */
    Object load() {
        size = 0;
        markCount = 0;
        built = 0;
        memo.clear();
        while (true) {
            opStart = pos;
            int op = u8();
            switch (op) {
                case 0x80 -> { int v = u8(); if (v > 5) throw bad("unsupported pickle protocol " + v); }       // PROTO
                case 0x95 -> need(i64());                                                                  // FRAME: a length hint, checked then ignored
                case '.' -> { return pop(); }                                                              // STOP
                case '(' -> mark();                                                                        // MARK
                case '0' -> { if (size > base()) pop(); else popMark(); }                                  // POP
                case '1' -> popMark();                                                                     // POP_MARK
                case '2' -> pushAgain(peek());                                                             // DUP
                case 'N' -> push(null);                                                                    // NONE
                case 0x88 -> push(Boolean.TRUE);                                                           // NEWTRUE
                case 0x89 -> push(Boolean.FALSE);                                                          // NEWFALSE
                case 'I' -> push(textInt(line(), true));                                                   // INT
                case 'J' -> push((long) i32());                                                            // BININT
                case 'K' -> push((long) u8());                                                             // BININT1
                case 'M' -> push((long) u16());                                                            // BININT2
                case 'L' -> push(textInt(line(), false));                                                  // LONG
                case 0x8a -> push(binaryInt(u8()));                                                        // LONG1
                case 0x8b -> push(binaryInt(i32()));                                                       // LONG4
                case 'F' -> push(textFloat(ascii(line())));                                                // FLOAT
                case 'G' -> { need(8); push(in.get(F64_BE, pos)); pos += 8; }                             // BINFLOAT (big endian)
                case 'S' -> push(utf8(unescape(quoted(line()))));                                          // STRING
                case 'T' -> push(utf8(bytes(i32())));                                                      // BINSTRING
                case 'U' -> push(utf8(bytes(u8())));                                                       // SHORT_BINSTRING
                case 'V' -> push(rawUnicodeEscape(line()));                                                // UNICODE
                case 'X' -> push(utf8(bytes(u32())));                                                      // BINUNICODE
                case 0x8c -> push(utf8(bytes(u8())));                                                      // SHORT_BINUNICODE
                case 0x8d -> push(utf8(bytes(i64())));                                                     // BINUNICODE8
                case 'B' -> push(bytes(u32()));                                                            // BINBYTES
                case 'C' -> push(bytes(u8()));                                                             // SHORT_BINBYTES
                case 0x8e, 0x96 -> push(bytes(i64()));                                                     // BINBYTES8, BYTEARRAY8
                case ')' -> push(List.of());                                                               // EMPTY_TUPLE
                case 't' -> push(Arrays.asList(popMark()));                                                // TUPLE
                case 0x85 -> { Object a = pop(); push(Arrays.asList(new Object[]{a})); }                   // TUPLE1
                case 0x86 -> { Object b = pop(), a = pop(); push(Arrays.asList(new Object[]{a, b})); }     // TUPLE2
                case 0x87 -> { Object c = pop(), b = pop(), a = pop(); push(Arrays.asList(new Object[]{a, b, c})); } // TUPLE3
                case ']' -> push(new ArrayList<>());                                                       // EMPTY_LIST
                case 'l' -> push(new ArrayList<>(Arrays.asList(popMark())));                               // LIST
                case 'a' -> { Object v = pop(); list(peek()).add(v); }                                     // APPEND
                case 'e' -> { Object[] items = popMark(); list(peek()).addAll(Arrays.asList(items)); }     // APPENDS
                case '}' -> push(new LinkedHashMap<>());                                                   // EMPTY_DICT
                case 'd' -> { Map<Object, Object> d = new LinkedHashMap<>(); setItems(d, popMark()); push(d); } // DICT
                case 's' -> { Object v = pop(), k = pop(); dict(peek()).put(hashable(k), v); }             // SETITEM
                case 'u' -> { Object[] items = popMark(); setItems(dict(peek()), items); }                 // SETITEMS
                case 0x8f -> push(new LinkedHashSet<>());                                                  // EMPTY_SET
                case 0x90 -> { Object[] items = popMark(); addItems(set(peek()), items); }                 // ADDITEMS
                case 0x91 -> { Set<Object> s = new LinkedHashSet<>(); addItems(s, popMark()); push(s); }   // FROZENSET
                case 'g' -> pushAgain(memoGet(decimal(line())));                                           // GET
                case 'h' -> pushAgain(memoGet(u8()));                                                      // BINGET
                case 'j' -> pushAgain(memoGet(u32()));                                                     // LONG_BINGET
                case 'p' -> memoPut(decimal(line()));                                                      // PUT
                case 'q' -> memoPut(u8());                                                                 // BINPUT
                case 'r' -> memoPut(u32());                                                                // LONG_BINPUT
                case 0x94 -> memoPut(memo.size());                                                         // MEMOIZE
                case 'c' -> { String module = utf8(line()); push(resolver.global(module, utf8(line()))); } // GLOBAL
                case 0x93 -> { String name = string(pop()); push(resolver.global(string(pop()), name)); }  // STACK_GLOBAL
                case 'R' -> { Object args = pop(); push(resolver.call(pop(), tuple(args))); }              // REDUCE
                case 0x81 -> { Object args = pop(); push(resolver.newObject(pop(), tuple(args))); }        // NEWOBJ
                case 0x92 -> {                                                                             // NEWOBJ_EX
                    Object kwargs = pop(), args = pop(), cls = pop();
                    if (!dict(kwargs).isEmpty()) throw bad("NEWOBJ_EX with keyword arguments is not supported");
                    push(resolver.newObject(cls, tuple(args)));
                }
                case 'b' -> { Object state = pop(); push(resolver.build(pop(), state)); }                  // BUILD
                case 'P' -> push(resolver.persistentLoad(ascii(line())));                                 // PERSID
                case 'Q' -> push(resolver.persistentLoad(pop()));                                          // BINPERSID
                case 'i' -> {                                                                              // INST: imports and calls
                    String module = utf8(line());
                    resolver.global(module, utf8(line()));
                    throw bad("INST opcode (instantiates a class) is not allowed");
                }
                case 'o' -> throw bad("OBJ opcode (instantiates a class) is not allowed");
                case 0x82, 0x83, 0x84 -> throw bad("EXT opcodes (extension registry) are not allowed");
                case 0x97, 0x98 -> throw bad("out-of-band buffers (protocol 5) are not supported");
                default -> throw bad(String.format("unknown opcode 0x%02x", op));
            }
        }
    }

    /** Python's name for the type of a value built here, for messages (never the value, which may be huge or cyclic). */
    static String typeName(Object o) {
        return switch (o) {
            case null -> "None";
            case String _ -> "str";
            case Long _ -> "int";
            case BigInteger _ -> "int";
            case Double _ -> "float";
            case Boolean _ -> "bool";
            case byte[] _ -> "bytes";
            case ArrayList<?> _ -> "list";
            case List<?> _ -> "tuple";
            case Map<?, ?> _ -> "dict";
            case Set<?> _ -> "set";
            default -> o.toString();
        };
    }

    /** A name read from the file, quoted for a one-line message: control characters escaped, long names cut. */
    static String quote(String name) {
        StringBuilder sb = new StringBuilder("'");
        name.codePoints().limit(200).forEach(c -> {
            if (c < 0x20 || c == 0x7f) sb.append(String.format("\\x%02x", c));
            else sb.appendCodePoint(c);
        });
        return sb.append(name.length() > 200 ? "...'" : "'").toString();
    }

    // ---- the stack

    private int base() { return markCount == 0 ? 0 : marks[markCount - 1]; }

    /** Pushes a value just built. */
    private void push(Object o) {
        if (++built > MAX_OBJECTS) throw bad("more than " + MAX_OBJECTS + " values");
        pushAgain(o);
    }

    /** Pushes a value that exists already (DUP, GET). */
    private void pushAgain(Object o) {
        if (size == stack.length) {
            if (size >= MAX_STACK) throw bad("stack deeper than " + MAX_STACK);
            stack = Arrays.copyOf(stack, size * 2);
        }
        stack[size++] = o;
    }

    private Object pop() {
        if (size <= base()) throw bad("stack underflow");
        Object o = stack[--size];
        stack[size] = null;
        return o;
    }

    private Object peek() {
        if (size <= base()) throw bad("stack underflow");
        return stack[size - 1];
    }

    private void mark() {
        if (markCount == marks.length) {
            if (markCount >= MAX_STACK) throw bad("more than " + MAX_STACK + " open marks");
            marks = Arrays.copyOf(marks, markCount * 2);
        }
        marks[markCount++] = size;
    }

    /** The items pushed since the last MARK, which is removed. */
    private Object[] popMark() {
        if (markCount == 0) throw bad("no MARK on the stack");
        int from = marks[--markCount];
        Object[] items = Arrays.copyOfRange(stack, from, size);
        Arrays.fill(stack, from, size, null);
        size = from;
        return items;
    }

    // ---- the memo

    private Object memoGet(long key) {
        Object v = memo.get(key);
        if (v == null && !memo.containsKey(key)) throw bad("memo has no entry " + key);
        return v;
    }

    private void memoPut(long key) {
        if (key < 0) throw bad("negative memo index");
        if (memo.size() >= MAX_MEMO && !memo.containsKey(key)) throw bad("memo larger than " + MAX_MEMO + " entries");
        memo.put(key, peek());
    }

    // ---- containers

    @SuppressWarnings("unchecked")
    private List<Object> list(Object o) {
        if (o instanceof ArrayList<?> l) return (List<Object>) l;
        throw bad("APPEND needs a list, found " + typeName(o));
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> dict(Object o) {
        if (o instanceof Map<?, ?> m) return (Map<Object, Object>) m;
        throw bad("expected a dict, found " + typeName(o));
    }

    @SuppressWarnings("unchecked")
    private Set<Object> set(Object o) {
        if (o instanceof Set<?> s) return (Set<Object>) s;
        throw bad("ADDITEMS needs a set, found " + typeName(o));
    }

    @SuppressWarnings("unchecked")
    private List<Object> tuple(Object o) {
        if (o instanceof List<?> l && !(o instanceof ArrayList<?>)) return (List<Object>) l;
        throw bad("arguments must be a tuple, found " + typeName(o));
    }

    private String string(Object o) {
        if (o instanceof String s) return s;
        throw bad("expected a str, found " + typeName(o));
    }

    private void setItems(Map<Object, Object> d, Object[] items) {
        if (items.length % 2 != 0) throw bad("odd number of items for a dict");
        for (int i = 0; i < items.length; i += 2) d.put(hashable(items[i]), items[i + 1]);
    }

    private void addItems(Set<Object> s, Object[] items) {
        for (Object item : items) s.add(hashable(item));
    }

    /** Containers are refused as keys: hashing a (possibly self-containing) list would recurse without end. */
    private Object hashable(Object key) {
        if (key instanceof Collection<?> || key instanceof Map<?, ?>) throw bad(typeName(key) + " as dict key or set item is not supported");
        return key;
    }

    // ---- reading arguments

    private void need(long n) {
        if (n < 0 || n > in.byteSize() - pos) throw bad("truncated: needs " + n + " more bytes");
    }

    private int u8() { need(1); return in.get(ValueLayout.JAVA_BYTE, pos++) & 0xff; }

    private int u16() { need(2); int v = in.get(U16, pos) & 0xffff; pos += 2; return v; }

    private int i32() { need(4); int v = in.get(I32, pos); pos += 4; return v; }

    private long u32() { return i32() & 0xffffffffL; }

    private long i64() { need(8); long v = in.get(I64, pos); pos += 8; return v; }

    private byte[] bytes(long n) {
        if (n < 0) throw bad("negative length " + n);
        if (n > MAX_STRING) throw bad("string of " + n + " bytes is longer than " + MAX_STRING);
        need(n);
        byte[] b = in.asSlice(pos, n).toArray(ValueLayout.JAVA_BYTE);
        pos += n;
        return b;
    }

    /** A text argument of protocol 0, without its newline. */
    private byte[] line() {
        long limit = Math.min(in.byteSize(), pos + MAX_STRING);
        for (long p = pos; p < limit; p++) {
            if (in.get(ValueLayout.JAVA_BYTE, p) == '\n') {
                byte[] b = in.asSlice(pos, p - pos).toArray(ValueLayout.JAVA_BYTE);
                pos = p + 1;
                return b;
            }
        }
        throw bad("text argument without a newline");
    }

    private String utf8(byte[] b) {
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw bad("invalid UTF-8 in a string");
        }
    }

    private String ascii(byte[] b) {
        for (byte c : b) if (c < 0) throw bad("non-ASCII text argument");
        return new String(b, StandardCharsets.US_ASCII);
    }

    private static Object normalized(BigInteger v) {
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    /** LONG1 / LONG4: little-endian two's complement. */
    private Object binaryInt(long n) {
        if (n > MAX_INT_BYTES) throw bad("int of " + n + " bytes is longer than " + MAX_INT_BYTES);
        byte[] le = bytes(n);
        if (le.length == 0) return 0L;
        byte[] be = new byte[le.length];
        for (int i = 0; i < le.length; i++) be[i] = le[le.length - 1 - i];
        return normalized(new BigInteger(be));
    }

    /** INT ("00" / "01" are False / True in protocol 0) and LONG (with a trailing L). */
    private Object textInt(byte[] line, boolean isInt) {
        String s = ascii(line).strip();
        if (isInt && s.equals("00")) return Boolean.FALSE;
        if (isInt && s.equals("01")) return Boolean.TRUE;
        if (!isInt && s.endsWith("L")) s = s.substring(0, s.length() - 1);
        if (s.length() > MAX_INT_BYTES) throw bad("int of " + s.length() + " digits is longer than " + MAX_INT_BYTES);
        try {
            return normalized(new BigInteger(s));
        } catch (NumberFormatException e) {
            throw bad("bad int literal");
        }
    }

    private long decimal(byte[] line) {
        String s = ascii(line).strip();
        if (s.isEmpty() || s.length() > 10 || !s.chars().allMatch(Character::isDigit)) throw bad("bad memo index");
        return Long.parseLong(s);
    }

    private double textFloat(String s) {
        s = s.strip();
        switch (s) {
            case "inf", "+inf" -> { return Double.POSITIVE_INFINITY; }
            case "-inf" -> { return Double.NEGATIVE_INFINITY; }
            case "nan", "-nan", "+nan" -> { return Double.NaN; }
            default -> { }
        }
        if (s.isEmpty() || !s.chars().allMatch(c -> Character.isDigit(c) || "+-.eE".indexOf(c) >= 0)) throw bad("bad float literal");
        try {
            return Double.parseDouble(s);
        } catch (NumberFormatException e) {
            throw bad("bad float literal");
        }
    }

    /** STRING's argument is a Python repr: 'text' or "text". */
    private byte[] quoted(byte[] b) {
        if (b.length < 2 || b[0] != b[b.length - 1] || (b[0] != '\'' && b[0] != '"')) throw bad("STRING argument is not quoted");
        return Arrays.copyOfRange(b, 1, b.length - 1);
    }

    /** Python's escape_decode: backslash escapes of a bytes literal. */
    private byte[] unescape(byte[] s) {
        byte[] out = new byte[s.length];
        int n = 0;
        for (int i = 0; i < s.length; i++) {
            byte c = s[i];
            if (c != '\\' || i + 1 == s.length) { out[n++] = c; continue; }
            byte e = s[++i];
            switch (e) {
                case 'n' -> out[n++] = '\n';
                case 't' -> out[n++] = '\t';
                case 'r' -> out[n++] = '\r';
                case 'a' -> out[n++] = 7;
                case 'b' -> out[n++] = '\b';
                case 'f' -> out[n++] = '\f';
                case 'v' -> out[n++] = 11;
                case '\\', '\'', '"' -> out[n++] = e;
                case '\n' -> { }
                case 'x' -> {
                    if (i + 2 >= s.length) throw bad("truncated \\x escape");
                    int hi = Character.digit(s[i + 1], 16), lo = Character.digit(s[i + 2], 16);
                    if (hi < 0 || lo < 0) throw bad("bad \\x escape");
                    out[n++] = (byte) (hi * 16 + lo);
                    i += 2;
                }
                default -> {
                    if (e >= '0' && e <= '7') {
                        int v = e - '0';
                        for (int k = 0; k < 2 && i + 1 < s.length && s[i + 1] >= '0' && s[i + 1] <= '7'; k++) v = v * 8 + s[++i] - '0';
                        out[n++] = (byte) v;
                    } else {
                        out[n++] = '\\';
                        out[n++] = e;
                    }
                }
            }
        }
        return Arrays.copyOf(out, n);
    }

    /** UNICODE's argument: latin-1 bytes with \\uXXXX and \\UXXXXXXXX escapes. */
    private String rawUnicodeEscape(byte[] s) {
        StringBuilder sb = new StringBuilder(s.length);
        for (int i = 0; i < s.length; i++) {
            int c = s[i] & 0xff;
            int digits = c == '\\' && i + 1 < s.length ? (s[i + 1] == 'u' ? 4 : s[i + 1] == 'U' ? 8 : 0) : 0;
            if (digits == 0) { sb.append((char) c); continue; }
            if (i + 2 + digits > s.length) throw bad("truncated \\u escape");
            int cp = 0;
            for (int k = 0; k < digits; k++) {
                int d = Character.digit(s[i + 2 + k], 16);
                if (d < 0) throw bad("bad \\u escape");
                cp = cp * 16 + d;
            }
            if (!Character.isValidCodePoint(cp)) throw bad("bad \\U escape");
            sb.appendCodePoint(cp);
            i += 1 + digits;
        }
        return sb.toString();
    }

    private WeightFormatException bad(String problem) {
        return new WeightFormatException(source + ": bad pickle at byte " + opStart + (record == null ? "" : " of " + record) + ": " + problem);
    }
}
