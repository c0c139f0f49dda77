package dev.tornadodiffusion.nn.clip;

import java.util.regex.Pattern;

/**
 * ftfy's mojibake detector ({@code ftfy.badness.is_bad}, ftfy 6.3.1): the few hundred characters that UTF-8
 * read as a single-byte encoding produces, sorted into categories, and the juxtapositions of them that real
 * text almost never contains (an accented lower-case letter followed by a currency sign, "Ã" before a
 * no-break space...). Text with such a sequence is worth trying to re-decode; text without one is left alone.
 */
final class Badness {
    private Badness() {}

    // The categories, as ftfy defines them; a '-' between two characters is a range.
    /** Seen in many contexts: sequences containing them are not mojibake by themselves. */
    private static final String COMMON = "\u00A0\u00AD·´–—―…’";
    /** C1 controls: unused outside mojibake. */
    private static final String C1 = "\u0080-\u009F";
    /** Nearly always mojibake (ª and º included: next to other mojibake they are not ordinals). */
    private static final String BAD = "¦¤¨¬¯¸ƒˆˇ˘˛˜†‡‰⌐◊\uFFFDªº";
    private static final String LAW = "¶§";
    private static final String CURRENCY = "¢£¥₧€";
    /** U+F8FF is the platform-specific symbol (the Apple logo on Macs). */
    private static final String START_PUNCTUATION = "¡«¿©΄΅‘‚“„•‹\uF8FF";
    private static final String END_PUNCTUATION = "®»˝”›™";
    private static final String NUMERIC = "²³¹±¼½¾×µ÷⁄∂∆∏∑√∞∩∫≈≠≡≤≥№";
    /** Letters people build emoticon faces from, so they may stand in odd places. */
    private static final String KAOMOJI = "Ò-ÖÙ-Üò-öø-üŐŌŪŲ°";
    private static final String UPPER_ACCENTED = "À-ÑØÜÝĂĀĄĆČĎĐĘĚĒĖĞĢİĪĶĹĽŁĻŃŇŅŒŘŚŞŠŢŤŮŰŸŹŻŽҐ";
    private static final String LOWER_ACCENTED = "ßà-ñăąāćčďđęěēėğģįīķĺľłļœŕśşšťüźżžґﬁﬂ";
    private static final String UPPER_COMMON = "ÞΑ-ΩΆΈΉΊΌΎΏΪΫЁ-Я";
    private static final String LOWER_COMMON = "α-ωάέήίΰа-џ";
    private static final String BOX = "│┌┐┘├┤┬┼═-╬▀▄█▌▐░▒▓";

    /** Python's {@code \s} and {@code \w} for str patterns, which Java's defaults do not match. */
    private static final String SPACE = "[" + Ftfy.PYTHON_WHITESPACE + "]";
    private static final String WORD = "[\\p{L}\\p{N}_]";

    private static final Pattern BADNESS = Pattern.compile(String.join("|",
            any(C1),
            any(BAD, LOWER_ACCENTED, UPPER_ACCENTED, BOX, START_PUNCTUATION, END_PUNCTUATION, CURRENCY, NUMERIC, LAW) + any(BAD),
            "[a-zA-Z]" + any(LOWER_COMMON, UPPER_COMMON) + any(BAD),
            any(BAD) + any(LOWER_ACCENTED, UPPER_ACCENTED, BOX, START_PUNCTUATION, END_PUNCTUATION, CURRENCY, NUMERIC, LAW),
            any(LOWER_ACCENTED, LOWER_COMMON, BOX, END_PUNCTUATION, CURRENCY, NUMERIC) + any(UPPER_ACCENTED),
            any(BOX, END_PUNCTUATION, CURRENCY, NUMERIC) + any(LOWER_ACCENTED),
            any(LOWER_ACCENTED, BOX, END_PUNCTUATION) + any(CURRENCY),
            SPACE + any(UPPER_ACCENTED) + any(CURRENCY),
            any(UPPER_ACCENTED, BOX) + any(NUMERIC, LAW),
            any(LOWER_ACCENTED, UPPER_ACCENTED, BOX, CURRENCY, END_PUNCTUATION) + any(START_PUNCTUATION) + any(NUMERIC),
            any(LOWER_ACCENTED, UPPER_ACCENTED, CURRENCY, NUMERIC, BOX, LAW) + any(END_PUNCTUATION) + any(START_PUNCTUATION),
            any(CURRENCY, NUMERIC, BOX) + any(START_PUNCTUATION),
            "[a-z]" + any(UPPER_ACCENTED) + any(START_PUNCTUATION, CURRENCY),
            any(BOX) + any(KAOMOJI),
            any(LOWER_ACCENTED, UPPER_ACCENTED, CURRENCY, NUMERIC, START_PUNCTUATION, END_PUNCTUATION, LAW) + any(BOX),
            any(BOX) + any(END_PUNCTUATION),
            any(LOWER_ACCENTED, UPPER_ACCENTED) + any(START_PUNCTUATION, END_PUNCTUATION) + WORD,
            // the ligature œ not followed by an unaccented Latin letter
            "[Œœ][^A-Za-z]",
            // a degree sign after a capital letter
            any(UPPER_ACCENTED) + "°",
            // common Windows-1252 two-character mojibake the rules above miss
            "[ÂÃÎÐ]" + any("€œŠš¢£Ÿž\u00A0\u00AD®©°·»", START_PUNCTUATION, END_PUNCTUATION, "–—´"),
            "×[²³]",
            // Windows-1252 mojibake of Arabic includes 'common' characters, so it takes four of them
            "[ØÙ]" + any(COMMON, CURRENCY, BAD, NUMERIC, START_PUNCTUATION, "ŸŠ®°µ»")
                    + "[ØÙ]" + any(COMMON, CURRENCY, BAD, NUMERIC, START_PUNCTUATION, "ŸŠ®°µ»"),
            // Windows-1252 mojibake starting three-byte sequences of some South Asian scripts
            "à[²µ¹¼½¾]",
            // MacRoman mojibake
            "√[±∂†≠®™´≤≥¥µø]",
            "≈[°¢]",
            "‚Ä[ìîïòôúùû†°¢π]",
            "‚[âó][àä°ê]",
            // Windows-1251 mojibake of characters in the U+2000 range
            "вЂ",
            // Windows-1251 mojibake of Latin-1 or Cyrillic: the pairs are common, so it takes three characters
            "[ВГРС]" + any(C1, BAD, START_PUNCTUATION, END_PUNCTUATION, CURRENCY, "°µ") + "[ВГРС]",
            // Windows-1251 on top of Latin-1 mojibake of Windows-1252 characters, next to a Latin letter
            "ГўВЂВ[^\\n][A-Za-z ]",
            // Windows-1252 encodings of 'à' and 'á', and of U+A0 itself
            "Ã[\u00A0¡]",
            "[a-z]" + SPACE + "?[ÃÂ][ ]",
            "^[ÃÂ][ ]",
            // Â before a character, as the encoding of exactly that character
            any("a-z.,?!", END_PUNCTUATION) + "Â" + any(" ", START_PUNCTUATION, END_PUNCTUATION),
            // Windows-1253 mojibake of characters in the U+2000 range
            "β€[™\u00A0Ά\u00AD®°]",
            // Windows-1253 mojibake of Latin-1 or Greek
            "[ΒΓΞΟ]" + any(C1, BAD, START_PUNCTUATION, END_PUNCTUATION, CURRENCY, "°") + "[ΒΓΞΟ]",
            // Windows-1257 mojibake of characters in the U+2000 range
            "ā€"));

    /** True when the text contains a sequence that is very likely mojibake. */
    static boolean isBad(String text) {
        return BADNESS.matcher(text).find();
    }

    private static String any(String... categories) {
        return "[" + String.join("", categories) + "]";
    }
}
