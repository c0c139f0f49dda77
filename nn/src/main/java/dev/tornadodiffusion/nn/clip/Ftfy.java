package dev.tornadodiffusion.nn.clip;

import java.text.Normalizer;
import java.util.regex.Pattern;

/**
 * {@code ftfy.fix_text} with ftfy 6.3.1's default configuration: the first clean-up CLIP's SimpleTokenizer applies
 * to a prompt. Each line is fixed on its own, repeating every fix until the line stops changing: HTML entities,
 * mojibake ({@link Mojibake}), C1 controls, Latin ligatures, full/half-width forms, curly quotes, line breaks,
 * lone surrogates, terminal escapes, invisible control characters, then NFC.
 */
final class Ftfy {
    private Ftfy() {}

    /** The characters Python's {@code str.isspace()} and {@code re}'s {@code \s} accept, as a regex class body. */
    static final String PYTHON_WHITESPACE = "\\t\\n\\x0B\\f\\r\\x1C-\\x1F \\x85\\xA0\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";

    private static final Pattern ANSI_ESCAPE = Pattern.compile("\u001B\\[(?:\\p{Nd}|;)*[a-zA-Z]");

    /** Halfwidth/fullwidth forms (U+FF01-FFEF) to their NFKC form, and the ideographic space to a space. */
    private static final String[] WIDTH_MAP = widthMap();

    static String fixText(String text) {
        StringBuilder out = new StringBuilder(text.length());
        boolean unescapeHtml = true;
        for (int pos = 0; pos < text.length(); ) {
            int newline = text.indexOf('\n', pos);
            int end = newline < 0 ? text.length() : newline + 1;
            String line = text.substring(pos, end);
            // a literal '<' means this is real HTML, whose entities must stay (ftfy keeps it off for the lines after, too)
            if (line.indexOf('<') >= 0) unescapeHtml = false;
            out.append(fixLine(line, unescapeHtml));
            pos = end;
        }
        return out.toString();
    }

    private static String fixLine(String text, boolean unescapeHtml) {
        while (true) {
            String original = text;
            if (unescapeHtml) text = HtmlEntities.unescapeFtfy(text);
            text = Mojibake.fixEncoding(text);
            text = Mojibake.fixC1Controls(text);
            text = fixLatinLigatures(text);
            text = fixCharacterWidth(text);
            text = uncurlQuotes(text);
            text = fixLineBreaks(text);
            text = fixSurrogates(text);
            text = ANSI_ESCAPE.matcher(text).replaceAll("");
            text = removeControlChars(text);
            text = Normalizer.normalize(text, Normalizer.Form.NFC);
            if (text.equals(original)) return text;
        }
    }

    /** Latin typographic ligatures and legacy digraph characters to their letters (æ and œ, used on purpose, stay). */
    static String fixLatinLigatures(String text) {
        StringBuilder out = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            out.append(switch (c) {
                case 'Ĳ' -> "IJ";
                case 'ĳ' -> "ij";
                case 'ŉ' -> "ʼn";
                case 'Ǳ' -> "DZ";
                case 'ǲ' -> "Dz";
                case 'ǳ' -> "dz";
                case 'Ǆ' -> "DŽ";
                case 'ǅ' -> "Dž";
                case 'ǆ' -> "dž";
                case 'Ǉ' -> "LJ";
                case 'ǈ' -> "Lj";
                case 'ǉ' -> "lj";
                case 'Ǌ' -> "NJ";
                case 'ǋ' -> "Nj";
                case 'ǌ' -> "nj";
                case 'ﬀ' -> "ff";
                case 'ﬁ' -> "fi";
                case 'ﬂ' -> "fl";
                case 'ﬃ' -> "ffi";
                case 'ﬄ' -> "ffl";
                case 'ﬅ' -> "ſt";
                case 'ﬆ' -> "st";
                default -> String.valueOf(c);
            });
        }
        return out.toString();
    }

    static String fixCharacterWidth(String text) {
        StringBuilder out = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            String wide = c == 0x3000 ? " " : c >= 0xFF01 && c < 0xFFF0 ? WIDTH_MAP[c - 0xFF01] : null;
            if (wide != null) out.append(wide);
            else out.append(c);
        }
        return out.toString();
    }

    static String uncurlQuotes(String text) {
        StringBuilder out = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            out.append(c == 0x02BC || (c >= 0x2018 && c <= 0x201B) ? '\'' : c >= 0x201C && c <= 0x201F ? '"' : c);
        }
        return out.toString();
    }

    /** CRLF, CR, U+2028, U+2029 and NEL all become "\n". */
    static String fixLineBreaks(String text) {
        return text.replace("\r\n", "\n").replace('\r', '\n').replace('\u2028', '\n').replace('\u2029', '\n').replace('\u0085', '\n');
    }

    /** Paired surrogates already are their character in a Java string; lone ones become U+FFFD. */
    static String fixSurrogates(String text) {
        StringBuilder out = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                out.append(c).append(text.charAt(++i));
            } else {
                out.append(Character.isSurrogate(c) ? '\uFFFD' : c);
            }
        }
        return out.toString();
    }

    /**
     * Drops control characters with no visible effect: C0 controls other than tab, newline, form feed and CR,
     * DEL, the deprecated Arabic format controls, interlinear annotation marks, U+FFFC and the byte order mark.
     * C1 controls, joiners, direction marks and tag characters are kept.
     */
    static String removeControlChars(String text) {
        StringBuilder out = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            boolean control = c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F
                    || (c >= 0x206A && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
            if (!control) out.append(c);
        }
        return out.toString();
    }

    private static String[] widthMap() {
        String[] map = new String[0xFFF0 - 0xFF01];
        for (char c = 0xFF01; c < 0xFFF0; c++) {
            String normal = Normalizer.normalize(String.valueOf(c), Normalizer.Form.NFKC);
            if (!normal.equals(String.valueOf(c))) map[c - 0xFF01] = normal;
        }
        return map;
    }
}
