package dev.tornadodiffusion.nn.clip;

import java.nio.charset.Charset;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * ftfy's {@code fix_encoding} (ftfy 6.3.1): repairs text that was UTF-8 but got decoded in a single-byte
 * encoding ("cafÃ©" -> "café"), by encoding it back to those bytes and decoding them as UTF-8 - only when
 * {@link Badness} says the text looks like mojibake, and only when the bytes really are UTF-8.
 *
 * <p>Byte sequences are handled as "byte strings": Strings whose chars are the byte values 0-255, so that the
 * regular expressions ftfy applies to bytes can be applied as written.
 */
final class Mojibake {
    private Mojibake() {}

    /** A single-byte encoding as ftfy uses it: what each byte decodes to, and the way back. */
    private record Charmap(boolean sloppy, char[] decode, Map<Character, Character> encode) {
        /**
         * ftfy's "sloppy" codecs decode the bytes a Windows code page leaves unassigned as their Latin-1
         * characters (so every byte string round-trips), and use byte 0x1A for U+FFFD.
         */
        static Charmap of(String charset, boolean sloppy) {
            char[] decode = decodeTable(charset);
            if (sloppy) {
                for (int b = 0; b < 256; b++) if (decode[b] == '\uFFFD') decode[b] = (char) b;
                decode[0x1A] = '\uFFFD';
            }
            Map<Character, Character> encode = new HashMap<>();
            encode.put(decode[0x1A], (char) 0x1A);
            for (int b = 0x80; b < 256; b++) encode.put(decode[b], (char) b);
            return new Charmap(sloppy, decode, encode);
        }

        /** The text encoded in this charmap as a byte string, or null if some character has no byte here. */
        String encode(String text) {
            char[] bytes = new char[text.length()];
            for (int i = 0; i < bytes.length; i++) {
                char c = text.charAt(i);
                Character b = c < 0x80 && c != 0x1A ? Character.valueOf(c) : encode.get(c);
                if (b == null) return null;
                bytes[i] = b;
            }
            return new String(bytes);
        }
    }

    /** The encodings ftfy tries, in its order: UTF-8 is most often misread as one of the first ones. */
    private static final Charmap LATIN_1 = Charmap.of("ISO-8859-1", false);
    private static final Charmap MAC_ROMAN = Charmap.of("x-MacRoman", false);
    private static final List<Charmap> CHARMAPS = List.of(
            LATIN_1,
            Charmap.of("windows-1252", true),
            Charmap.of("windows-1251", true),
            Charmap.of("windows-1250", true),
            Charmap.of("windows-1253", true),
            Charmap.of("windows-1254", true),
            Charmap.of("windows-1257", true),
            Charmap.of("ISO-8859-2", false),
            MAC_ROMAN,
            Charmap.of("IBM437", false));

    /** Windows-1252 with the 5 unassigned bytes unassigned (U+FFFD). */
    private static final char[] WINDOWS_1252 = decodeTable("windows-1252");
    /** Windows-1252 with the unassigned bytes kept as C1 controls: how browsers (and HTML5 references) read bytes 80-9F. */
    static final char[] WINDOWS_1252_SLOPPY = CHARMAPS.get(1).decode;

    /**
     * UTF-8 with some of its 0xA0 bytes (a no-break space in Windows-1252) turned into plain spaces, as a
     * step that "cleans up" whitespace does; only lead bytes whose completion is a likely character count.
     */
    private static final String CONTINUATION_BUT_85_A0 = "[\\x80-\\x84\\x86-\\x9f\\xa1-\\xbf]";
    private static final Pattern ALTERED_UTF8 = Pattern.compile(
            "[\\xc2\\xc3\\xc5\\xce\\xd0\\xd9][ ]"
            + "|[\\xe2\\xe3][ ]" + CONTINUATION_BUT_85_A0
            + "|[\\xe0-\\xe3]" + CONTINUATION_BUT_85_A0 + "[ ]"
            + "|\\xf0[ ][\\x80-\\xbf][\\x80-\\xbf]"
            + "|\\xf0[\\x80-\\xbf][ ][\\x80-\\xbf]"
            + "|\\xf0[\\x80-\\xbf][\\x80-\\xbf][ ]");
    /** "Ã " as a word of its own is "à" (French "à la"), except before the Portuguese words that start with "à". */
    private static final Pattern A_GRAVE_WORD = Pattern.compile("\\xc3 (?! |quele|quela|quilo|s )");
    /** UTF-8 sequences with some bytes lost to U+FFFD (byte 0x1A in sloppy codecs) or '?': they decode as one U+FFFD. */
    private static final Pattern LOSSY_UTF8 = Pattern.compile(
            "[\\xc2-\\xdf][\\x1a]"
            + "|[\\xc2-\\xc3][?]"
            + "|\\xed[\\xa0-\\xaf][\\x1a?]\\xed[\\xb0-\\xbf][\\x1a?\\x80-\\xbf]"
            + "|\\xed[\\xa0-\\xaf][\\x1a?\\x80-\\xbf]\\xed[\\xb0-\\xbf][\\x1a?]"
            + "|[\\xe0-\\xef][\\x1a?][\\x1a\\x80-\\xbf]"
            + "|[\\xe0-\\xef][\\x1a\\x80-\\xbf][\\x1a?]"
            + "|[\\xf0-\\xf4][\\x1a?][\\x1a\\x80-\\xbf][\\x1a\\x80-\\xbf]"
            + "|[\\xf0-\\xf4][\\x1a\\x80-\\xbf][\\x1a?][\\x1a\\x80-\\xbf]"
            + "|[\\xf0-\\xf4][\\x1a\\x80-\\xbf][\\x1a\\x80-\\xbf][\\x1a?]"
            + "|\\x1a");
    private static final Pattern C1_CONTROL = Pattern.compile("[\\x80-\\x9f]");
    private static final Pattern UTF8_DETECTOR = utf8Detector();

    /** Repeats the one-step fix until the text stops changing. */
    static String fixEncoding(String text) {
        while (true) {
            String fixed = fixEncodingStep(text);
            if (fixed.equals(text)) return text;
            text = fixed;
        }
    }

    /** Characters still in the C1 range are read as Windows-1252, as browsers do. */
    static String fixC1Controls(String text) {
        Matcher m = C1_CONTROL.matcher(text);
        if (!m.find()) return text;
        char[] chars = text.toCharArray();
        for (int i = 0; i < chars.length; i++) if (chars[i] >= 0x80 && chars[i] <= 0x9F) chars[i] = WINDOWS_1252_SLOPPY[chars[i]];
        return new String(chars);
    }

    private static String fixEncodingStep(String text) {
        if (text.isEmpty() || isAscii(text) || !Badness.isBad(text)) return text;
        boolean latin1 = false;
        for (Charmap charmap : CHARMAPS) {
            String bytes = charmap.encode(text);
            if (bytes == null) continue;
            latin1 |= charmap == LATIN_1;
            // en dash + space is too common in MacRoman text to read it as a lost 0xA0
            if (charmap != MAC_ROMAN && ALTERED_UTF8.matcher(bytes).find()) bytes = restoreByteA0(bytes);
            if (charmap.sloppy()) bytes = LOSSY_UTF8.matcher(bytes).replaceAll("\u00ef\u00bf\u00bd");
            String decoded = decodeUtf8Variants(bytes);
            if (decoded != null) return decoded;
        }
        if (UTF8_DETECTOR.matcher(text).find()) {
            String fixed = decodeInconsistentUtf8(text);
            if (!fixed.equals(text)) return fixed;
        }
        // Latin-1 text with C1 controls was meant to be Windows-1252 (ftfy only succeeds here when all of its
        // C1 bytes are assigned in Windows-1252; the rest is left to fixC1Controls)
        if (latin1) {
            String fixed = decodeStrictWindows1252(text);
            if (fixed != null && !fixed.equals(text)) return fixed;
        }
        return fixC1Controls(text);
    }

    /** Puts back the 0xA0 bytes that became spaces inside otherwise valid UTF-8 sequences. */
    private static String restoreByteA0(String bytes) {
        bytes = A_GRAVE_WORD.matcher(bytes).replaceAll("\u00c3\u00a0 ");
        Matcher m = ALTERED_UTF8.matcher(bytes);
        StringBuilder out = new StringBuilder(bytes.length());
        int last = 0;
        while (m.find()) {
            out.append(bytes, last, m.start()).append(m.group().replace(' ', '\u00a0'));
            last = m.end();
        }
        return out.append(bytes, last, bytes.length()).toString();
    }

    /** Fixes the stretches that look like UTF-8 mojibake inside text that, as a whole, is not one encoding. */
    private static String decodeInconsistentUtf8(String text) {
        Matcher m = UTF8_DETECTOR.matcher(text);
        StringBuilder out = new StringBuilder(text.length());
        int last = 0;
        while (m.find()) {
            String part = m.group();
            // shorter than the whole text, so this cannot recurse forever
            out.append(text, last, m.start()).append(part.length() < text.length() && Badness.isBad(part) ? fixEncoding(part) : part);
            last = m.end();
        }
        return out.append(text, last, text.length()).toString();
    }

    private static String decodeStrictWindows1252(String latin1) {
        char[] chars = latin1.toCharArray();
        for (int i = 0; i < chars.length; i++) {
            if (chars[i] < 0x80) continue;
            chars[i] = WINDOWS_1252[chars[i]];
            if (chars[i] == '\uFFFD') return null;
        }
        return new String(chars);
    }

    /**
     * Strict UTF-8 (shortest forms, no surrogates, at most U+10FFFF: Python's decoder) plus ftfy's
     * "utf-8-variants": CESU-8 surrogate pairs and Java's two-byte NUL (C0 80). Null when the bytes are not that.
     */
    static String decodeUtf8Variants(String bytes) {
        StringBuilder out = new StringBuilder(bytes.length());
        int n = bytes.length();
        for (int i = 0; i < n; ) {
            int b0 = bytes.charAt(i);
            if (b0 < 0x80) {
                out.append((char) b0);
                i++;
            } else if (b0 == 0xC0 && i + 1 < n && bytes.charAt(i + 1) == 0x80) {
                out.append('\0');
                i += 2;
            } else if (isCesu8Pair(bytes, i)) {
                out.appendCodePoint(0x10000 + ((bytes.charAt(i + 1) & 0x0F) << 16) + ((bytes.charAt(i + 2) & 0x3F) << 10)
                        + ((bytes.charAt(i + 4) & 0x0F) << 6) + (bytes.charAt(i + 5) & 0x3F));
                i += 6;
            } else {
                int length = b0 >= 0xC2 && b0 <= 0xDF ? 2 : b0 >= 0xE0 && b0 <= 0xEF ? 3 : b0 >= 0xF0 && b0 <= 0xF4 ? 4 : 0;
                if (length == 0 || i + length > n) return null;
                int cp = b0 & (0x7F >> length);
                for (int k = 1; k < length; k++) {
                    int b = bytes.charAt(i + k);
                    if ((b & 0xC0) != 0x80) return null;
                    cp = (cp << 6) | (b & 0x3F);
                }
                if (length == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return null;
                if (length == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return null;
                out.appendCodePoint(cp);
                i += length;
            }
        }
        return out.toString();
    }

    /** ED A0-AF 80-BF ED B0-BF 80-BF: a UTF-16 surrogate pair encoded as two 3-byte sequences. */
    private static boolean isCesu8Pair(String bytes, int i) {
        return i + 6 <= bytes.length()
                && bytes.charAt(i) == 0xED && in(bytes.charAt(i + 1), 0xA0, 0xAF) && in(bytes.charAt(i + 2), 0x80, 0xBF)
                && bytes.charAt(i + 3) == 0xED && in(bytes.charAt(i + 4), 0xB0, 0xBF) && in(bytes.charAt(i + 5), 0x80, 0xBF);
    }

    private static boolean in(char c, int lo, int hi) {
        return c >= lo && c <= hi;
    }

    private static boolean isAscii(String text) {
        for (int i = 0; i < text.length(); i++) if (text.charAt(i) >= 0x80) return false;
        return true;
    }

    /**
     * Stretches of characters that UTF-8 sequences turn into when read in Latin-1 or a Windows code page: a lead
     * byte of a 2-, 3- or 4-byte sequence followed by that many continuation bytes (a space may stand for a lost
     * 0xA0), not right after a continuation character (so a few characters in a large garble are left alone).
     */
    private static Pattern utf8Detector() {
        String[] encodings = {"ISO-8859-1", "windows-1252", "windows-1251", "windows-1250", "windows-1253", "windows-1254", "windows-1257"};
        StringBuilder first2 = new StringBuilder(), first3 = new StringBuilder(), first4 = new StringBuilder();
        StringBuilder continuation = new StringBuilder(" "), strict = new StringBuilder();
        for (String encoding : encodings) {
            char[] table = decodeTable(encoding);
            for (int b = 0x80; b < 256; b++) {
                char c = table[b];
                if (c == '\uFFFD') continue;
                String escaped = String.format("\\x{%x}", (int) c);
                if (b >= 0xC2 && b <= 0xDF) first2.append(escaped);
                else if (b >= 0xE0 && b <= 0xEF) first3.append(escaped);
                else if (b == 0xF0 || b == 0xF3) first4.append(escaped); // other 4-byte leads give unassigned code points
                else if (b <= 0xBF) {
                    continuation.append(escaped);
                    // dashes, quotes, bullets and ellipses often stand for themselves next to mojibake
                    if ("–—―‘’‚“”„•…".indexOf(c) < 0) strict.append(escaped);
                }
            }
        }
        String cont = "[" + continuation + "]";
        return Pattern.compile("(?<![" + strict + "])(?:[" + first2 + "]" + cont + "|[" + first3 + "]" + cont + "{2}|[" + first4 + "]" + cont + "{3})+");
    }

    /** Byte -> character of a single-byte charset; U+FFFD for bytes it leaves unassigned. */
    private static char[] decodeTable(String charset) {
        Charset cs = Charset.forName(charset);
        byte[] all = new byte[256];
        for (int b = 0; b < 256; b++) all[b] = (byte) b;
        String decoded = new String(all, cs);
        if (decoded.length() != 256) throw new IllegalStateException(charset + " is not a single-byte charset");
        return decoded.toCharArray();
    }
}
