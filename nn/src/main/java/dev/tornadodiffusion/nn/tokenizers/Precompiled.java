package dev.tornadodiffusion.nn.tokenizers;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.text.BreakIterator;
import java.util.Base64;
import java.util.Locale;

/**
 * The {@code Precompiled} normalizer: a SentencePiece normalization rule set (e.g. nmt_nfkc: NFKC plus NMT rules
 * such as tab / newline -> space and control characters removed) compiled into a "charsmap": a little-endian u32
 * byte length, a darts-clone double-array trie over UTF-8 byte strings, then a pool of NUL-terminated replacement
 * strings the trie's values point into.
 *
 * <p>HF tokenizers applies it per extended grapheme cluster: a cluster shorter than 6 UTF-8 bytes is replaced
 * whole when the trie has a rule for a prefix of it (the SHORTEST such prefix's rule, replacing the whole
 * cluster), otherwise each code point is looked up the same way. This is not what sentencepiece itself does
 * (longest match over the raw text), and we follow HF because the pipelines load the fast tokenizer.
 */
public final class Precompiled implements Normalizer {
    private final int[] trie;
    private final byte[] pool;

    private Precompiled(int[] trie, byte[] pool) {
        this.trie = trie;
        this.pool = pool;
    }

    /** @throws IllegalArgumentException when the blob is not base64 or its trie length does not fit */
    public static Precompiled fromBase64(String charsmap) {
        byte[] blob = Base64.getDecoder().decode(charsmap);
        ByteBuffer b = ByteBuffer.wrap(blob).order(ByteOrder.LITTLE_ENDIAN);
        if (blob.length < 4) throw new IllegalArgumentException("precompiled_charsmap is shorter than its 4-byte header");
        long trieBytes = Integer.toUnsignedLong(b.getInt());
        if (trieBytes % 4 != 0 || trieBytes > blob.length - 4)
            throw new IllegalArgumentException("precompiled_charsmap: trie length " + trieBytes + " does not fit the " + blob.length + "-byte blob");
        int[] trie = new int[(int) (trieBytes / 4)];
        for (int i = 0; i < trie.length; i++) trie[i] = b.getInt();
        byte[] pool = new byte[b.remaining()];
        b.get(pool);
        return new Precompiled(trie, pool);
    }

    @Override
    public String normalize(String text) {
        StringBuilder out = new StringBuilder(text.length());
        BreakIterator graphemes = BreakIterator.getCharacterInstance(Locale.ROOT);
        graphemes.setText(text);
        for (int start = graphemes.first(), end = graphemes.next(); end != BreakIterator.DONE; start = end, end = graphemes.next()) {
            String cluster = text.substring(start, end);
            byte[] utf8 = cluster.getBytes(StandardCharsets.UTF_8);
            String rule = utf8.length < 6 ? transform(utf8) : null;
            if (rule != null) { out.append(rule); continue; }
            cluster.codePoints().forEach(cp -> {
                String c = Character.toString(cp);
                String r = transform(c.getBytes(StandardCharsets.UTF_8));
                out.append(r != null ? r : c);
            });
        }
        return out.toString();
    }

    /** The replacement of the shortest prefix of {@code key} that has a rule, or null (darts-clone's common prefix search). */
    private String transform(byte[] key) {
        if (trie.length == 0) return null;
        int node = offset(trie[0]);
        for (byte k : key) {
            int c = k & 0xFF;
            if (c == 0) return null;
            node ^= c;
            if (node >= trie.length) return null;
            int unit = trie[node];
            if ((unit & 0x800000FF) != c) return null;
            node ^= offset(unit);
            if (((unit >>> 8) & 1) == 1) return node < trie.length ? replacement(trie[node] & 0x7FFFFFFF) : null;
        }
        return null;
    }

    private static int offset(int unit) {
        return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
    }

    private String replacement(int from) {
        if (from > pool.length) return null;
        int to = from;
        while (to < pool.length && pool[to] != 0) to++;
        return new String(pool, from, to - from, StandardCharsets.UTF_8);
    }
}
