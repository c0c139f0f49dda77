package dev.tornadodiffusion.cli;

import dev.tornadodiffusion.weights.JsonConfig;
import dev.tornadodiffusion.nn.clip.ClipTextConfig;
import dev.tornadodiffusion.nn.tld.DenoiserConfig;
import dev.tornadodiffusion.nn.unet.UNet2DConditionConfig;
import dev.tornadodiffusion.nn.vae.AutoencoderKLConfig;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BenchCommandTest {
    static final Path FIXTURES = Path.of(System.getProperty("fixtures.dir", "../../shared/fixtures"));
    /** The bundled pipeline folder (random weights, with tokenizer and text encoder). */
    static final Path TINY_SD = Path.of("../models/tiny-sd").toAbsolutePath().normalize();

    static String bench(String... args) throws Exception {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (PrintStream out = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
            assertEquals(0, new BenchCommand(out).run(args));
        }
        return buf.toString(StandardCharsets.UTF_8);
    }

    static void assertHas(String output, String... parts) {
        for (String p : parts) assertTrue(output.contains(p), "missing '" + p + "' in:\n" + output);
    }

    @Test
    void kernelBenchmarksEndWithGflopsAgainstThePeak() throws Exception {
        String[] lines = bench("gemm", "8", "5", "3", "--runs", "2", "--warmup", "1").strip().split("\n");
        assertTrue(lines[0].startsWith("gemm 8x5x3 (MxNxK) on cpu: best "), lines[0]);
        assertTrue(lines[lines.length - 1].matches("GFLOP/s=\\d+\\.\\d peak=\\d+\\.\\d \\(\\d+\\.\\d% of peak\\)"), lines[lines.length - 1]);
    }

    @Test
    void unetFolderReportsParametersRunsMemoryAndProfile() throws Exception {
        String out = bench("unet", FIXTURES.resolve("unet-sd").toString(), "--latent", "8", "--batch", "1", "--runs", "2", "--warmup", "1", "--profile");
        assertHas(out, "sample [1, 4, 8, 8]", "parameters 555,380; weights 2,221,520 bytes", "memory-mapped", "warm-up 1: ", "run 1: ", "run 2: ",
                "unet: best ", " s/it of 2 runs", "memory: heap ", "profile: per run, 2 timed runs", "conv2d", "attention", "(outside backend)");
    }

    @Test
    void randomTldBuildsTheReleasedModelSize() throws Exception {
        String out = bench("tld", "--random", "tld-100m", "--batch", "1", "--runs", "1", "--warmup", "0");
        assertHas(out, "tld-100m (random F32 weights), x [1, 4, 32, 32], label [1, 768]", "parameters 101,164,480;", "F32, on the Java heap", "tld: best ");
    }

    @Test
    void pipelineReportsStagesStepsAndImagesPerMinute() throws Exception {
        String out = bench("pipeline", TINY_SD.toString(), "--steps", "2", "--width", "32", "--height", "32",
                "--runs", "1", "--warmup", "0");
        assertHas(out, "32x32, batch 1, 2 steps", "pipeline: best ", " s per generation of 1 runs", "stages (median of 1 generations):",
                "tokenizer ", "text encoder", "denoise", "vae decode", "denoiser step", "(median of 2 steps)", "images/min");
    }

    @Test
    void builtInConfigsAreTheRealModels() {
        UNet2DConditionConfig sd15 = UNet2DConditionConfig.fromJson(ModelBenchmarks.builtin("unet-sd15"), "sd15");
        assertArrayEquals(new int[]{320, 640, 1280, 1280}, sd15.block_out_channels());
        assertEquals(8, sd15.num_attention_heads(0));
        assertEquals(768, sd15.cross_attention_dim()[0]);
        UNet2DConditionConfig sd21 = UNet2DConditionConfig.fromJson(ModelBenchmarks.builtin("unet-sd21"), "sd21");
        assertTrue(sd21.use_linear_projection() && sd21.upcast_attention());
        UNet2DConditionConfig sdxl = UNet2DConditionConfig.fromJson(ModelBenchmarks.builtin("unet-sdxl"), "sdxl");
        assertArrayEquals(new int[]{10, 10}, sdxl.transformer_layers_per_block()[2]);
        assertEquals("text_time", sdxl.addition_embed_type());
        for (String vae : ModelBenchmarks.RANDOM_VAES)
            assertArrayEquals(new int[]{128, 256, 512, 512}, AutoencoderKLConfig.from(new JsonConfig(ModelBenchmarks.builtin("vae-" + vae), vae)).block_out_channels());
        List<Integer> widths = ModelBenchmarks.RANDOM_CLIPS.stream()
                .map(c -> ClipTextConfig.from(new JsonConfig(ModelBenchmarks.builtin(c), c)).hidden_size()).toList();
        assertEquals(List.of(768, 1024, 1280), widths);
        assertEquals(12, DenoiserConfig.from(new JsonConfig(ModelBenchmarks.builtin("tld-100m"), "tld")).n_layers());
    }

    @Test
    void badArgumentsAreUsageErrors() {
        String unet = FIXTURES.resolve("unet-sd").toString();
        String[][] cases = {
                {"unet"},
                {"unet", "--random", "sd9"},
                {"unet", unet, "--random", "sd15"},
                {"unet", unet, "--dtype", "f16"},
                {"unet", "--random", "sd15", "--dtype", "f8"},
                {"vae", "--random", "sd", "--size", "100"},
                {"clip", "--random", "clip-l", "--batch", "0"},
                {"pipeline"},
                {"pipeline", "--random", "sd15"},
                {"pipeline", unet + "/missing"},
        };
        for (String[] c : cases) assertThrows(UsageException.class, () -> new BenchCommand(new PrintStream(new ByteArrayOutputStream())).run(c), String.join(" ", c));
    }
}
