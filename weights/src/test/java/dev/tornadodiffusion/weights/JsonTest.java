package dev.tornadodiffusion.weights;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class JsonTest {
    @TempDir Path dir;

    record UNetConfig(@JsonProperty("_class_name") String className,
                      @JsonProperty("in_channels") int inChannels,
                      @JsonProperty("block_out_channels") int[] blockOutChannels,
                      @JsonProperty("attention_head_dim") int[] attentionHeadDim,
                      @JsonProperty("norm_eps") double normEps,
                      @JsonProperty("addition_embed_type") String additionEmbedType,
                      @JsonProperty("num_attention_heads") Integer numAttentionHeads) {}

    @Test
    void mapsAFixtureConfigOntoARecord() throws IOException {
        UNetConfig c = Json.read(SafetensorsTest.FIXTURES.resolve("unet-sd/config.json"), UNetConfig.class);
        assertEquals("UNet2DConditionModel", c.className());
        assertEquals(4, c.inChannels());
        assertArrayEquals(new int[]{16, 32, 32}, c.blockOutChannels());
        assertArrayEquals(new int[]{8}, c.attentionHeadDim());     // a single value where a list may stand
        assertEquals(1e-5, c.normEps());
        assertNull(c.additionEmbedType());
        assertNull(c.numAttentionHeads());
        JsonNode index = Json.read(SafetensorsTest.FIXTURES.resolve("pipeline-sd/model_index.json"));
        assertEquals("UNet2DConditionModel", index.get("unet").get(1).asText());
    }

    @Test
    void readsPythonsNonFiniteNumbers() throws IOException {
        Path f = dir.resolve("c.json");
        Files.writeString(f, "{\"norm_eps\": NaN, \"in_channels\": 3}");
        assertTrue(Double.isNaN(Json.read(f, UNetConfig.class).normEps()));
    }

    @Test
    void badFilesGiveOneLineErrorsNamingFileAndField() throws IOException {
        expect("{\"in_channels\": 4,,}", "bad JSON: Unexpected character (',' (code 44)): was expecting double-quote to start field name (line 1, column 19)", null);
        expect("{\"a\": 1} {", "bad JSON: unexpected data after the JSON value", null);
        expect("[1, 2]", "expected a JSON object, found array", null);
        expect("", "expected a JSON object, found nothing", null);
        expect("{\"block_out_channels\": [16, \"x\"]}", "field 'block_out_channels[1]': Cannot deserialize value of type `int` from String \"x\"", UNetConfig.class);
        expect("{\"in_channels\": null}", "field 'in_channels': Cannot map `null` into type `int`", UNetConfig.class);
        assertThrows(java.nio.file.NoSuchFileException.class, () -> Json.read(dir.resolve("missing.json")));
    }

    private void expect(String json, String expected, Class<?> type) throws IOException {
        Path f = dir.resolve("config.json");
        Files.writeString(f, json);
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> { if (type == null) Json.read(f); else Json.read(f, type); });
        assertTrue(e.getMessage().startsWith(f + ": ") && e.getMessage().contains(expected), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }
}
