package dev.tornadodiffusion.nn.clip;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Expected values are what Python's html.unescape and ftfy's unescape_html return. */
class HtmlEntitiesTest {

    @Test
    void decodesNamedReferences() {
        assertEquals("Tom & Jerry <3 \"quoted\"", HtmlEntities.unescape("Tom &amp; Jerry &lt;3 &quot;quoted&quot;"));
        assertEquals("É… — ✓ \uD835\uDCA5", HtmlEntities.unescape("&Eacute;&hellip; &mdash; &checkmark; &Jscr;"));
        assertEquals("&unknown;", HtmlEntities.unescape("&unknown;"));
        // only one level per call: SimpleTokenizer calls it twice
        assertEquals("&amp;", HtmlEntities.unescape("&amp;amp;"));
    }

    @Test
    void decodesLegacyNamesWithoutSemicolonByLongestPrefix() {
        assertEquals("&", HtmlEntities.unescape("&amp"));
        assertEquals("&x", HtmlEntities.unescape("&ampx"));
        assertEquals("this¬ that", HtmlEntities.unescape("this&not that"));
        assertEquals("¬it;", HtmlEntities.unescape("&notit;"));
        assertEquals("© 2024", HtmlEntities.unescape("&copy 2024"));
    }

    @Test
    void decodesNumericReferencesWithHtml5Rules() {
        assertEquals("'single'", HtmlEntities.unescape("&#39;single&#39;"));
        assertEquals("'’", HtmlEntities.unescape("&#x27;&#X2019"));
        assertEquals("€", HtmlEntities.unescape("&#128;"));
        assertEquals("\u0081", HtmlEntities.unescape("&#129;"));
        assertEquals("\uFFFD", HtmlEntities.unescape("&#0;"));
        assertEquals("\r", HtmlEntities.unescape("&#13;"));
        assertEquals("\uFFFD\uFFFD\uFFFD", HtmlEntities.unescape("&#xD800;&#x110000;&#99999999999999999999;"));
        assertEquals("x", HtmlEntities.unescape("&#1;&#xFFFF;&#xFDD0;x"));
        assertEquals("\uD83D\uDE80", HtmlEntities.unescape("&#x1F680;"));
        assertEquals("&#;&#x;", HtmlEntities.unescape("&#;&#x;"));
    }

    @Test
    void ftfyDecodesOnlyTerminatedReferencesAndUpperCaseNames() {
        assertEquals("this&not that &ampx &amp", HtmlEntities.unescapeFtfy("this&not that &ampx &amp"));
        assertEquals("<tag> 'x'", HtmlEntities.unescapeFtfy("&lt;tag&gt; &#39;x&#x27;"));
        assertEquals("PÉREZ BUNDESSTRASSE", HtmlEntities.unescapeFtfy("P&EACUTE;REZ BUNDESSTRA&SZLIG;E"));
        assertEquals("ñ Ñ Ñ &nTILDE;", HtmlEntities.unescapeFtfy("&ntilde; &Ntilde; &NTILDE; &nTILDE;"));
        assertEquals("&notit;", HtmlEntities.unescapeFtfy("&notit;"));
    }
}
