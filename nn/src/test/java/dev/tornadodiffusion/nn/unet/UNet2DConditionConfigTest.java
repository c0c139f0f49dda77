package dev.tornadodiffusion.nn.unet;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tornadodiffusion.nn.Fixtures;
import dev.tornadodiffusion.weights.WeightFormatException;
import org.junit.jupiter.api.Test;

import java.io.IOException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class UNet2DConditionConfigTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static UNet2DConditionConfig parse(String json) throws IOException {
        return UNet2DConditionConfig.fromJson(JSON.readTree(json), "config.json");
    }

    @Test
    void emptyConfigHasDiffusersDefaults() throws IOException {
        UNet2DConditionConfig c = parse("{}");
        assertArrayEquals(new int[] {320, 640, 1280, 1280}, c.block_out_channels());
        assertArrayEquals(new int[] {2, 2, 2, 2}, c.layers_per_block());
        assertEquals(8, c.num_attention_heads(0));
        assertArrayEquals(new int[] {1280, 1280, 1280, 1280}, c.cross_attention_dim());
        assertEquals(1280, c.time_embed_dim());
        assertEquals(32, c.norm_num_groups());
        assertEquals(1e-5f, c.norm_eps());
        assertTrue(c.flip_sin_to_cos());
        assertNull(c.addition_embed_type());
        assertEquals("DownBlock2D", c.down_block_types().get(3));
        assertArrayEquals(new int[] {1, 1, 1}, c.up_transformer_layers(1));
    }

    @Test
    void sdxlStyleListsExpandPerBlockAndReverseForTheUpPath() throws IOException {
        UNet2DConditionConfig c = parse("""
                {"block_out_channels": [320, 640, 1280], "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
                 "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"], "attention_head_dim": [5, 10, 20],
                 "transformer_layers_per_block": [1, 2, 10], "cross_attention_dim": 2048, "addition_embed_type": "text_time",
                 "addition_time_embed_dim": 256, "projection_class_embeddings_input_dim": 2816, "use_linear_projection": true}""");
        assertEquals(20, c.num_attention_heads(2));
        assertArrayEquals(new int[] {10, 10}, c.transformer_layers_per_block()[2]);
        assertArrayEquals(new int[] {10, 10, 10}, c.up_transformer_layers(0));
        assertArrayEquals(new int[] {2, 2, 2}, c.up_transformer_layers(1));
        assertArrayEquals(new int[] {2048, 2048, 2048}, c.cross_attention_dim());
        assertEquals(256, c.addition_time_embed_dim());
    }

    @Test
    void nullUpcastAttentionIsFalseAsInTheSdxlBaseConfig() throws IOException {
        assertFalse(parse("{\"upcast_attention\": null}").upcast_attention());
        assertTrue(parse("{\"upcast_attention\": true}").upcast_attention());
    }

    @Test
    void asymmetricTransformerDepthsNeedTheReverseList() throws IOException {
        String base = """
                {"block_out_channels": [32, 64], "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
                 "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D"], "layers_per_block": 2,
                 "transformer_layers_per_block": [1, [2, 3]]""";
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> parse(base + "}"));
        assertTrue(e.getMessage().contains("reverse_transformer_layers_per_block"), e.getMessage());
        UNet2DConditionConfig c = parse(base + ", \"reverse_transformer_layers_per_block\": [[4, 5, 6], 1]}");
        assertArrayEquals(new int[] {2, 3}, c.transformer_layers_per_block()[1]);
        assertArrayEquals(new int[] {4, 5, 6}, c.up_transformer_layers(0));
        assertArrayEquals(new int[] {1, 1, 1}, c.up_transformer_layers(1));
    }

    @Test
    void unsupportedValuesNameTheField() {
        String[][] cases = {
                {"num_attention_heads", "8"},
                {"class_embed_type", "\"timestep\""},
                {"encoder_hid_dim", "768"},
                {"addition_embed_type", "\"text\""},
                {"time_embedding_type", "\"fourier\""},
                {"resnet_time_scale_shift", "\"scale_shift\""},
                {"mid_block_type", "null"},
                {"mid_block_type", "\"UNetMidBlock2DSimpleCrossAttn\""},
                {"only_cross_attention", "[false, true, false, false]"},
                {"dual_cross_attention", "true"},
                {"down_block_types", "[\"SimpleCrossAttnDownBlock2D\", \"DownBlock2D\", \"DownBlock2D\", \"DownBlock2D\"]"},
                {"attention_head_dim", "[8, 8]"},
                {"layers_per_block", "-1"},
                {"norm_num_groups", "null"},
                {"norm_num_groups", "7"},
                {"norm_num_groups", "0"},
                {"attention_head_dim", "0"},
                {"conv_in_kernel", "4"},
        };
        for (String[] c : cases) {
            ObjectNode json = JSON.createObjectNode();
            try {
                json.set(c[0], JSON.readTree(c[1]));
            } catch (IOException e) {
                throw new AssertionError(e);
            }
            WeightFormatException e = assertThrows(WeightFormatException.class, () -> UNet2DConditionConfig.fromJson(json, "config.json"), c[0] + "=" + c[1]);
            assertTrue(e.getMessage().startsWith("config.json: field '" + c[0] + "'"), e.getMessage());
        }
    }

    @Test
    void fixtureConfigs() throws IOException {
        UNet2DConditionConfig sd = UNet2DConditionModel.readConfig(Fixtures.path("unet-sd").resolve("config.json"));
        assertArrayEquals(new int[] {8, 8, 8}, sd.attention_head_dim());
        assertEquals(8, sd.sample_size());
        UNet2DConditionConfig sd2 = UNet2DConditionModel.readConfig(Fixtures.path("unet-sd2").resolve("config.json"));
        assertArrayEquals(new int[] {2, 4}, sd2.attention_head_dim());
        assertTrue(sd2.use_linear_projection());
    }
}
