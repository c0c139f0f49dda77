package dev.tornadodiffusion.nn.clip;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** ftfy.fix_text behaviour; every expected value is what ftfy 6.3.1 returns for the input. */
class FtfyTest {

    @Test
    void repairsUtf8ReadAsWindows1252OrLatin1() {
        assertEquals("só", Ftfy.fixText("sÃ³"));
        assertEquals("café crème brûlée", Ftfy.fixText("cafÃ© crÃ¨me brÃ»lÃ©e"));
        assertEquals("✔ No problems", Ftfy.fixText("âœ” No problems"));
        assertEquals("The Mona Lisa doesn't have eyebrows.", Ftfy.fixText("The Mona Lisa doesnâ€™t have eyebrows."));
        assertEquals("únicó", Ftfy.fixText("ÃºnicÃ³"));
    }

    @Test
    void repairsMojibakeTwiceOverAndInOtherCodePages() {
        assertEquals("café", Ftfy.fixText("cafÃƒÂ©"));
        assertEquals("Привет", Ftfy.fixText("ÐŸÑ€Ð¸Ð²ÐµÑ‚"));
        assertEquals("привет мир", Ftfy.fixText("Ð¿Ñ€Ð¸Ð²ÐµÑ‚ Ð¼Ð¸Ñ€"));
    }

    @Test
    void restoresNoBreakSpacesThatBecameSpaces() {
        assertEquals("voilà le travail", Ftfy.fixText("voilÃ le travail"));
        assertEquals("à la mode", Ftfy.fixText("Ã la mode"));
    }

    @Test
    void decodesMojibakeEmbeddedInOtherwiseFineText() {
        assertEquals("¯\\_(ツ)_/¯", Ftfy.fixText("&macr;\\_(\u00e3\u0083\u0084)_/&macr;"));
        assertEquals("café – a", Ftfy.fixText("cafÃ© â€“ a"));
        assertEquals("\" like this \uFFFD", Ftfy.fixText("â€œ like this â€\uFFFD"));
    }

    @Test
    void leavesCorrectTextAlone() {
        for (String text : new String[] {"café", "naïve résumé", "Ã", "Pokémon Ñandú façade Ångström", "日本語のテキスト", "Ελληνικά", "this&not that"}) {
            assertEquals(text, Ftfy.fixText(text), text);
        }
    }

    @Test
    void readsC1ControlsAsWindows1252() {
        assertEquals("I'm", Ftfy.fixText("I\u0092m"));
        assertEquals("€uro", Ftfy.fixText("\u0080uro"));
    }

    @Test
    void unescapesHtmlOnlyWhenTheLineIsNotHtml() {
        assertEquals("<tag>", Ftfy.fixText("&lt;tag&gt;"));
        assertEquals("PÉREZ", Ftfy.fixText("P&EACUTE;REZ"));
        assertEquals("Broken text… it's flubberific!", Ftfy.fixText("Broken text&hellip; it&#x2019;s ﬂubberiﬁc!"));
        assertEquals("x < y &amp; z", Ftfy.fixText("x < y &amp; z"));
        // once a line with '<' was seen, the lines after it keep their entities too
        assertEquals("a & b\nc < d\n&amp; e", Ftfy.fixText("a &amp; b\nc < d\n&amp; e"));
        assertEquals("&", Ftfy.fixText("&amp;amp;"));
    }

    @Test
    void normalizesWidthsLigaturesQuotesAndComposition() {
        assertEquals("LOUD NOISES", Ftfy.fixText("ＬＯＵＤ\u3000ＮＯＩＳＥＳ"));
        assertEquals("ターン", Ftfy.fixText("ﾀｰﾝ"));
        assertEquals("financial flow IJssel", Ftfy.fixText("ﬁnancial ﬂow Ĳssel"));
        assertEquals("\"here's a test\"", Ftfy.fixText("\u201chere\u2019s a test\u201d"));
        assertEquals("é", Ftfy.fixText("e\u0301"));
    }

    @Test
    void fixesLineBreaksControlsEscapesAndSurrogates() {
        assertEquals("line1\nline2\nline3\nline4", Ftfy.fixText("line1\r\nline2\rline3\u2028line4"));
        assertEquals("abcde", Ftfy.fixText("a\u0000b\u0007c\uFEFFd\u007Fe"));
        assertEquals("blue", Ftfy.fixText("\u001B[36;44mblue\u001B[0m"));
        assertEquals("\uFFFD", Ftfy.fixText("\uD83D"));
        assertEquals("\uD83D\uDC31", Ftfy.fixText("\uD83D\uDC31"));
    }
}
