package dev.tornadodiffusion.nn.tokenizers;

import java.util.ArrayList;
import java.util.List;

/** A tokenizer.json {@code pre_tokenizer}: splits normalized text into the pieces the model tokenizes one by one. */
public sealed interface PreTokenizer permits PreTokenizer.Sequence, PreTokenizer.Metaspace, PreTokenizer.WhitespaceSplit {

    /**
     * @param atStart whether {@code text} begins at offset 0 of the original text (Metaspace's
     *                {@code prepend_scheme "first"})
     */
    List<String> split(String text, boolean atStart);

    enum PrependScheme { ALWAYS, FIRST, NEVER }

    /** Each pre-tokenizer applied to every piece the previous ones produced. */
    record Sequence(List<PreTokenizer> pretokenizers) implements PreTokenizer {
        public List<String> split(String text, boolean atStart) {
            List<String> pieces = List.of(text);
            for (PreTokenizer p : pretokenizers) {
                List<String> next = new ArrayList<>();
                for (int i = 0; i < pieces.size(); i++) next.addAll(p.split(pieces.get(i), atStart && i == 0));
                pieces = next;
            }
            return pieces;
        }
    }

    /**
     * SentencePiece's word boundaries: spaces become {@code replacement} (▁), one is prepended when the text does
     * not start with it (per {@code prepend_scheme}), and with {@code split} the text is cut before every ▁.
     * Empty text stays empty.
     */
    record Metaspace(char replacement, PrependScheme prepend_scheme, boolean split) implements PreTokenizer {
        public List<String> split(String text, boolean atStart) {
            if (text.isEmpty()) return List.of();
            String s = text.replace(' ', replacement);
            boolean prepend = switch (prepend_scheme) {
                case ALWAYS -> true;
                case FIRST -> atStart;
                case NEVER -> false;
            };
            if (prepend && s.charAt(0) != replacement) s = replacement + s;
            if (!split) return List.of(s);
            List<String> out = new ArrayList<>();
            int from = 0;
            for (int i = 1; i < s.length(); i++)
                if (s.charAt(i) == replacement) { out.add(s.substring(from, i)); from = i; }
            out.add(s.substring(from));
            return out;
        }
    }

    /** Splits on Unicode white space, dropping it. */
    record WhitespaceSplit() implements PreTokenizer {
        public List<String> split(String text, boolean atStart) {
            List<String> out = new ArrayList<>();
            int from = -1;
            for (int i = 0; i < text.length(); ) {
                int cp = text.codePointAt(i);
                if (Unicode.isWhitespace(cp)) {
                    if (from >= 0) out.add(text.substring(from, i));
                    from = -1;
                } else if (from < 0) from = i;
                i += Character.charCount(cp);
            }
            if (from >= 0) out.add(text.substring(from));
            return out;
        }
    }
}
