package dev.tornadodiffusion.diffusion.prompts;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * AUTOMATIC1111's emphasis syntax, exactly as its {@code parse_prompt_attention} reads it: {@code (x)} multiplies the
 * weight of x by 1.1, {@code [x]} by 1/1.1, {@code (x:1.5)} by 1.5; {@code \(} {@code \)} {@code \[} {@code \]}
 * {@code \\} are the literal characters (a lone backslash disappears); unmatched closing brackets and colons are
 * text; brackets still open at the end apply to everything after them; the word BREAK (with the whitespace around
 * it) becomes a chunk break. Weights are products of doubles in the same order as upstream, and neighbouring
 * pieces of equal weight are merged.
 */
public final class PromptParser {
    private PromptParser() {}

    /** A piece of prompt text and its weight; {@link #isBreak()} marks a BREAK. */
    public record Piece(String text, double weight) {
        public static final Piece BREAK = new Piece("BREAK", -1);

        /** A chunk break: only the marker itself, not the word BREAK inside brackets (whose weight was multiplied). */
        public boolean isBreak() {
            return text.equals("BREAK") && weight == -1;
        }
    }

    private static final double ROUND = 1.1, SQUARE = 1 / 1.1;

    /** re_attention: escapes, brackets, a ":weight)" closing, plain text runs, a lone colon. */
    private static final Pattern ATTENTION = Pattern.compile(
            "\\\\\\(|\\\\\\)|\\\\\\[|\\\\]|\\\\\\\\|\\\\|\\(|\\[|:\\s*([+-]?[.\\d]+)\\s*\\)|\\)|]|[^\\\\()\\[\\]:]+|:",
            Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern BREAK = Pattern.compile("\\s*\\bBREAK\\b\\s*", Pattern.DOTALL | Pattern.UNICODE_CHARACTER_CLASS);

    /** The weighted pieces of {@code prompt}; never empty ({@code [("", 1.0)]} for a prompt with no text). */
    public static List<Piece> parse(String prompt) {
        List<String> texts = new ArrayList<>();
        List<Double> weights = new ArrayList<>();
        List<Integer> round = new ArrayList<>(), square = new ArrayList<>();
        Matcher m = ATTENTION.matcher(prompt);
        while (m.find()) {
            String text = m.group();
            String weight = m.group(1);
            if (text.startsWith("\\")) {
                texts.add(text.substring(1));
                weights.add(1.0);
            } else if (text.equals("(")) {
                round.add(texts.size());
            } else if (text.equals("[")) {
                square.add(texts.size());
            } else if (weight != null && !round.isEmpty()) {
                multiplyRange(weights, round.removeLast(), number(weight, prompt));
            } else if (text.equals(")") && !round.isEmpty()) {
                multiplyRange(weights, round.removeLast(), ROUND);
            } else if (text.equals("]") && !square.isEmpty()) {
                multiplyRange(weights, square.removeLast(), SQUARE);
            } else {
                String[] parts = BREAK.split(text, -1);
                for (int i = 0; i < parts.length; i++) {
                    if (i > 0) {
                        texts.add(Piece.BREAK.text());
                        weights.add(Piece.BREAK.weight());
                    }
                    texts.add(parts[i]);
                    weights.add(1.0);
                }
            }
        }
        for (int pos : round) multiplyRange(weights, pos, ROUND);
        for (int pos : square) multiplyRange(weights, pos, SQUARE);

        List<Piece> out = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            if (!out.isEmpty() && out.getLast().weight() == weights.get(i))
                out.set(out.size() - 1, new Piece(out.getLast().text() + texts.get(i), weights.get(i)));
            else
                out.add(new Piece(texts.get(i), weights.get(i)));
        }
        if (out.isEmpty()) out.add(new Piece("", 1.0));
        return out;
    }

    private static void multiplyRange(List<Double> weights, int start, double multiplier) {
        for (int p = start; p < weights.size(); p++) weights.set(p, weights.get(p) * multiplier);
    }

    /** Python's {@code float()} of the matched weight; upstream raises on "1.2.3", here it is a one-line error. */
    private static double number(String weight, String prompt) {
        try {
            return Double.parseDouble(weight);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("prompt: the weight '" + weight + "' is not a number in \"" + prompt + "\"");
        }
    }
}
