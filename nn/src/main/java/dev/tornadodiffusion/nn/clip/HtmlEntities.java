package dev.tornadodiffusion.nn.clip;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * HTML character references, decoded the two ways CLIP's text clean-up needs: {@link #unescape} is Python's
 * {@code html.unescape} (what SimpleTokenizer applies twice), {@link #unescapeFtfy} is ftfy's more careful
 * {@code unescape_html} (only references ending in ';', plus upper-cased names like {@code &EACUTE;}).
 */
final class HtmlEntities {
    private HtmlEntities() {}

    private static final Pattern CHARREF = Pattern.compile("&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\\t\\n\\f <&#;]{1,32};?)");
    private static final Pattern FTFY_ENTITY = Pattern.compile("&#?[0-9A-Za-z]{1,24};");

    /** name -> text for every HTML5 named reference; names without ';' are the legacy ones browsers accept bare. */
    private static final Map<String, String> HTML5 = load("html5-entities.txt");

    /** ftfy's table: "&name;" for the HTML5 names with ';', and "&NAME;" for lower-case names whose upper-case spelling means nothing. */
    private static final Map<String, String> FTFY = ftfyTable();

    /** Python's {@code html.unescape}: numeric and named references, bare legacy names included ("&ampx" -> "&x"). */
    static String unescape(String s) {
        if (s.indexOf('&') < 0) return s;
        Matcher m = CHARREF.matcher(s);
        StringBuilder out = new StringBuilder(s.length());
        int last = 0;
        while (m.find()) {
            out.append(s, last, m.start()).append(replaceCharref(m.group(1)));
            last = m.end();
        }
        return out.append(s, last, s.length()).toString();
    }

    /** ftfy's {@code unescape_html}: decodes "&name;" and "&#...;" only, so informal text like "this&not that" is kept. */
    static String unescapeFtfy(String s) {
        if (s.indexOf('&') < 0) return s;
        Matcher m = FTFY_ENTITY.matcher(s);
        StringBuilder out = new StringBuilder(s.length());
        int last = 0;
        while (m.find()) {
            String entity = m.group();
            String replacement = FTFY.get(entity);
            if (replacement == null) {
                replacement = entity;
                if (entity.startsWith("&#")) {
                    String decoded = unescape(entity);
                    if (decoded.indexOf(';') < 0) replacement = decoded; // only a fully consumed reference counts
                }
            }
            out.append(s, last, m.start()).append(replacement);
            last = m.end();
        }
        return out.append(s, last, s.length()).toString();
    }

    private static String replaceCharref(String s) {
        if (s.charAt(0) == '#') {
            boolean hex = s.charAt(1) == 'x' || s.charAt(1) == 'X';
            String digits = s.substring(hex ? 2 : 1, s.endsWith(";") ? s.length() - 1 : s.length());
            return numericReference(parseSaturated(digits, hex ? 16 : 10));
        }
        String named = HTML5.get(s);
        if (named != null) return named;
        for (int x = s.length() - 1; x > 1; x--) { // the longest legacy name that prefixes it, as the standard says
            named = HTML5.get(s.substring(0, x));
            if (named != null) return named + s.substring(x);
        }
        return "&" + s;
    }

    /** What "&#num;" stands for under the HTML5 rules (and Python's): C1 numbers mean Windows-1252, invalid ones vanish. */
    private static String numericReference(long num) {
        if (num == 0) return "\uFFFD";
        if (num == 0x0D) return "\r";
        if (num >= 0x80 && num <= 0x9F) return String.valueOf(Mojibake.WINDOWS_1252_SLOPPY[(int) num]);
        if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) return "\uFFFD";
        int cp = (int) num;
        boolean invalid = (cp >= 0x01 && cp <= 0x08) || cp == 0x0B || (cp >= 0x0E && cp <= 0x1F) || (cp >= 0x7F && cp <= 0x9F)
                || (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE;
        return invalid ? "" : Character.toString(cp);
    }

    /** Parses digits, stopping at a value past the Unicode range (any such number means the same: U+FFFD). */
    private static long parseSaturated(String digits, int radix) {
        long v = 0;
        for (int i = 0; i < digits.length() && v <= 0x10FFFF; i++) v = v * radix + Character.digit(digits.charAt(i), radix);
        return v;
    }

    private static Map<String, String> ftfyTable() {
        Map<String, String> table = new HashMap<>();
        HTML5.forEach((name, text) -> {
            if (!name.endsWith(";")) return;
            table.put("&" + name, text);
            // upper-cased names are decoded only where that is unambiguous: the name is all lower case and
            // its upper-case form is not itself a reference (&EACUTE; -> É, but &Eacute; and &eacute; differ)
            String upper = "&" + name.toUpperCase(Locale.ROOT);
            if (name.equals(name.toLowerCase(Locale.ROOT)) && unescape(upper).equals(upper)) table.put(upper, text.toUpperCase(Locale.ROOT));
        });
        return table;
    }

    private static Map<String, String> load(String resource) {
        try (InputStream in = HtmlEntities.class.getResourceAsStream(resource)) {
            if (in == null) throw new IllegalStateException("missing resource " + resource + " next to " + HtmlEntities.class.getName());
            Map<String, String> map = new HashMap<>(4096);
            BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            for (String line; (line = reader.readLine()) != null; ) {
                if (line.isEmpty() || line.startsWith("#")) continue;
                String[] fields = line.split(" ");
                StringBuilder text = new StringBuilder();
                for (int i = 1; i < fields.length; i++) text.appendCodePoint(Integer.parseInt(fields[i], 16));
                map.put(fields[0], text.toString());
            }
            return map;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read resource " + resource, e);
        }
    }
}
