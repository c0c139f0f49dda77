package dev.tornadodiffusion.weights;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class JsonTest {
    @TempDir Path dir;

    @Test
    void readsFixtureConfigs() throws IOException {
        JsonNode c = Json.read(Fixtures.path("unet-sd/config.json"));
        assertEquals("UNet2DConditionModel", c.get("_class_name").asText());
        assertEquals(4, c.get("in_channels").intValue());
        assertEquals(3, c.get("block_out_channels").size());
        JsonNode index = Json.read(Fixtures.path("pipeline-sd/model_index.json"));
        assertEquals("UNet2DConditionModel", index.get("unet").get(1).asText());
    }

    @Test
    void readsPythonsNonFiniteNumbers() throws IOException {
        Path f = dir.resolve("c.json");
        Files.writeString(f, "{\"norm_eps\": NaN, \"lambda_min_clipped\": -Infinity}");
        JsonNode c = Json.read(f);
        assertTrue(Double.isNaN(c.get("norm_eps").doubleValue()));
        assertEquals(Double.NEGATIVE_INFINITY, c.get("lambda_min_clipped").doubleValue());
    }

    @Test
    void badFilesGiveOneLineErrorsNamingTheFile() throws IOException {
        expect("{\"in_channels\": 4,,}", "bad JSON: Unexpected character (',' (code 44)): was expecting double-quote to start field name (line 1, column 19)");
        expect("{\"a\": 1} {", "bad JSON: unexpected data after the JSON value");
        expect("[1, 2]", "expected a JSON object, found array");
        expect("", "expected a JSON object, found nothing");
        assertThrows(java.nio.file.NoSuchFileException.class, () -> Json.read(dir.resolve("missing.json")));
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> Json.parse("{\"a\": ", "request body"));
        assertTrue(e.getMessage().startsWith("request body: bad JSON: "), e.getMessage());
    }

    private void expect(String json, String expected) throws IOException {
        Path f = dir.resolve("config.json");
        Files.writeString(f, json);
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> Json.read(f));
        assertTrue(e.getMessage().startsWith(f + ": ") && e.getMessage().contains(expected), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }
}
