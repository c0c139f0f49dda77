package dev.tornadodiffusion.nn.tokenizers;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A tokenizer.json {@code normalizer}: rewrites a piece of text before pre-tokenization (HF tokenizers' normalizers). */
public sealed interface Normalizer permits Normalizer.Sequence, Normalizer.Strip, Normalizer.Replace, Precompiled {

    String normalize(String text);

    /** Each normalizer in order. */
    record Sequence(List<Normalizer> normalizers) implements Normalizer {
        public String normalize(String text) {
            for (Normalizer n : normalizers) text = n.normalize(text);
            return text;
        }
    }

    /** Removes Unicode white space (Rust's {@code char::is_whitespace}) at the left and/or right end. */
    record Strip(boolean strip_left, boolean strip_right) implements Normalizer {
        public String normalize(String text) {
            int from = 0, to = text.length();
            while (strip_left && from < to && Unicode.isWhitespace(text.codePointAt(from))) from += Character.charCount(text.codePointAt(from));
            while (strip_right && to > from && Unicode.isWhitespace(text.codePointBefore(to))) to -= Character.charCount(text.codePointBefore(to));
            return text.substring(from, to);
        }
    }

    /** Every match of {@code pattern} (a literal string or a regex) replaced by {@code content}. */
    record Replace(Pattern pattern, String content) implements Normalizer {
        public String normalize(String text) {
            return pattern.matcher(text).replaceAll(Matcher.quoteReplacement(content));
        }
    }
}
