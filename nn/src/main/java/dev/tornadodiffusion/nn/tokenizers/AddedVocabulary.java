package dev.tornadodiffusion.nn.tokenizers;

import java.util.ArrayList;
import java.util.List;

/**
 * HF tokenizers' {@code AddedVocabulary::extract_and_normalize}: the added tokens that are not normalized are cut
 * out of the raw text first (leftmost, then longest match), each remaining stretch is normalized, and the
 * normalized added tokens are cut out of that. What is left are the stretches the pre-tokenizer and model see.
 */
final class AddedVocabulary {
    /** A stretch of text ({@code id} -1) or an added token. {@code atStart}: the stretch begins the original text. */
    record Segment(String text, int id, boolean atStart) {}

    private final List<AddedToken> raw = new ArrayList<>(), normalized = new ArrayList<>();

    AddedVocabulary(List<AddedToken> tokens) {
        for (AddedToken t : tokens) (t.normalized() ? normalized : raw).add(t);
    }

    List<Segment> split(String text, Normalizer normalizer) {
        List<Segment> out = new ArrayList<>();
        for (Segment s : cut(text, raw, true)) {
            if (s.id() >= 0) { out.add(s); continue; }
            String norm = normalizer == null ? s.text() : normalizer.normalize(s.text());
            for (Segment n : cut(norm, normalized, s.atStart())) if (n.id() >= 0 || !n.text().isEmpty()) out.add(n);
        }
        return out;
    }

    /** Splits {@code text} at the leftmost-longest matches of {@code tokens}; empty stretches are dropped. */
    private static List<Segment> cut(String text, List<AddedToken> tokens, boolean atStart) {
        List<Segment> out = new ArrayList<>();
        int done = 0;
        for (int i = 0; i < text.length(); ) {
            AddedToken match = null;
            for (AddedToken t : tokens)
                if (text.startsWith(t.content(), i) && !t.content().isEmpty() && (match == null || t.content().length() > match.content().length())) match = t;
            if (match == null) { i++; continue; }
            int start = i, stop = i + match.content().length();
            if (match.lstrip()) while (start > done && Unicode.isWhitespace(text.codePointBefore(start))) start -= Character.charCount(text.codePointBefore(start));
            if (match.rstrip()) while (stop < text.length() && Unicode.isWhitespace(text.codePointAt(stop))) stop += Character.charCount(text.codePointAt(stop));
            if (start > done) out.add(new Segment(text.substring(done, start), -1, atStart && done == 0));
            out.add(new Segment(match.content(), match.id(), false));
            done = i = stop;
        }
        if (done < text.length()) out.add(new Segment(text.substring(done), -1, atStart && done == 0));
        return out;
    }
}
