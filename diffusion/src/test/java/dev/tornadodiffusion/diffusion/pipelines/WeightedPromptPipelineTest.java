package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.nn.vae.AutoencoderTiny;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Long and weighted prompts through the SD and SDXL pipelines' text conditioning, and TAESD decoding / previews. */
class WeightedPromptPipelineTest {
    @TempDir static Path tmp;
    static Path sd, sdxl;

    @BeforeAll
    static void folders() throws Exception {
        sd = TinyFolders.sd(tmp.resolve("sd"), true);
        sdxl = TinyFolders.sdxl(tmp.resolve("sdxl"), "StableDiffusionXLPipeline", "scheduler", true, "");
    }

    private static float[] row(Tensor states, int from, int to) {
        return Arrays.copyOfRange(states.toFloatArray(), from * states.dim(2), to * states.dim(2));
    }

    @Test
    void aLongPromptsTailChangesTheConditioning() throws Exception {
        String head = "a red fox in the snow, ".repeat(25); // 150 tokens and more
        try (var p = (StableDiffusionPipeline) Pipeline.load(sd, Backends.cpu(), LoadOptions.DEFAULT)) {
            Tensor a = p.encodePrompt(GenerationRequest.builder(head + "at night").build(), StableDiffusionXLPipelineTest.plan(true)).states();
            Tensor b = p.encodePrompt(GenerationRequest.builder(head + "at dawn").build(), StableDiffusionXLPipelineTest.plan(true)).states();
            Tensor negative = p.encodePrompt(GenerationRequest.builder(head + "at night").build(), StableDiffusionXLPipelineTest.plan(true)).negativeStates();
            assertEquals(3 * 77, a.dim(1));
            assertEquals(a.dim(1), negative.dim(1), "the negative prompt is padded to the prompt's chunks");
            assertArrayEquals(row(a, 0, 77), row(b, 0, 77), "the first chunk is the same text");
            assertFalse(Arrays.equals(row(a, 154, 231), row(b, 154, 231)), "the tail is encoded, not cut");
        }
    }

    @Test
    void emphasisChangesTheConditioningUnlessLiteral() throws Exception {
        try (var p = (StableDiffusionPipeline) Pipeline.load(sd, Backends.cpu(), LoadOptions.DEFAULT)) {
            float[] plain = p.encodePrompt(GenerationRequest.builder("a word").build(), StableDiffusionXLPipelineTest.plan(false)).states().toFloatArray();
            float[] weighted = p.encodePrompt(GenerationRequest.builder("a (word:1.3)").build(), StableDiffusionXLPipelineTest.plan(false)).states().toFloatArray();
            float[] literal = p.encodePrompt(GenerationRequest.builder("a (word:1.3)").literalPrompt(true).build(), StableDiffusionXLPipelineTest.plan(false)).states().toFloatArray();
            assertFalse(Arrays.equals(plain, weighted));
            assertFalse(Arrays.equals(weighted, literal));
            assertFalse(Arrays.equals(plain, literal));
        }
    }

    @Test
    void sdxlWeightsBothEncodersAndPoolsTheFirstChunk() throws Exception {
        String head = "a red fox in the snow, ".repeat(15);
        try (var p = (StableDiffusionXLPipeline) Pipeline.load(sdxl, Backends.cpu(), LoadOptions.DEFAULT)) {
            Conditioning.Prompt a = p.encodePrompt(GenerationRequest.builder(head + "(at night:1.4)").negativePrompt("blurry").build(), StableDiffusionXLPipelineTest.plan(true));
            Conditioning.Prompt b = p.encodePrompt(GenerationRequest.builder(head + "at night").negativePrompt("blurry").build(), StableDiffusionXLPipelineTest.plan(true));
            assertEquals(2 * 77, a.states().dim(1));
            assertEquals(56, a.states().dim(2));
            assertEquals(a.states().dim(1), a.negativeStates().dim(1));
            assertArrayEquals(a.pooled().toFloatArray(), b.pooled().toFloatArray(), "pooled from the first chunk, before emphasis");
            assertFalse(Arrays.equals(a.states().toFloatArray(), b.states().toFloatArray()));
        }
    }

    /** A TAESD folder with random weights whose latents are the test VAE's (4 channels, 1/2 size: one upsampling level). */
    private static Path tinyVaeFolder(Path dir) throws Exception {
        java.nio.file.Files.createDirectories(dir);
        String config = """
                {"_class_name": "AutoencoderTiny", "encoder_block_out_channels": [8, 8], "decoder_block_out_channels": [8, 8],
                 "num_encoder_blocks": [1, 1], "num_decoder_blocks": [1, 1], "latent_channels": 4}""";
        java.nio.file.Files.writeString(dir.resolve("config.json"), config);
        java.util.Map<String, Tensor> weights = new java.util.LinkedHashMap<>();
        dev.tornadodiffusion.diffusion.TorchGenerator gen = new dev.tornadodiffusion.diffusion.TorchGenerator(7);
        dev.tornadodiffusion.weights.StateDict none = new dev.tornadodiffusion.weights.StateDict() {
            @Override public String source() { return "generated"; }
            @Override public java.util.Set<String> keys() { return weights.keySet(); }
            @Override public Tensor get(String key) { return weights.get(key); }
        };
        new AutoencoderTiny(dev.tornadodiffusion.nn.vae.AutoencoderTinyConfig.from(dev.tornadodiffusion.weights.JsonConfig.read(dir.resolve("config.json"))),
                new dev.tornadodiffusion.nn.Params(none, Backends.cpu(), (key, shape) -> {
                    Tensor t = Backends.cpu().scale(gen.randn(shape), 0.2f);
                    weights.put(key, t);
                    return t;
                }));
        dev.tornadodiffusion.weights.SafetensorsWriter.write(dir.resolve("diffusion_pytorch_model.safetensors"), weights);
        return dir;
    }

    @Test
    void taesdDecodesTheResultAndThePreviews() throws Exception {
        Path taesd = tinyVaeFolder(tmp.resolve("taesd"));
        List<Integer> previews = new ArrayList<>();
        GenerationRequest r = GenerationRequest.builder("a fox").steps(3).width(32).height(32).build();
        try (Pipeline p = Pipeline.load(sd, Backends.cpu(), LoadOptions.DEFAULT.withVaeTiny(taesd));
             AutoencoderTiny tiny = AutoencoderTiny.load(taesd, Backends.cpu(), null)) {
            GenerationResult result = p.generate(r, new Progress() {
                @Override public int previewEvery() { return 2; }
                @Override public void preview(int step, Tensor images) {
                    assertArrayEquals(new int[]{1, 32, 32, 3}, images.shape());
                    previews.add(step);
                }
            });
            assertEquals(List.of(2, 3), previews);
            float[] e = tiny.decode(result.latents()).toFloatArray(), img = result.images().toFloatArray();
            // NHWC [0, 1] of TAESD's NCHW [-1, 1] output
            assertEquals(Math.min(1f, Math.max(0f, e[0] / 2 + 0.5f)), img[0], 1e-6f);
            assertEquals(Math.min(1f, Math.max(0f, e[32 * 32] / 2 + 0.5f)), img[1], 1e-6f);
        }
    }

    @Test
    void aTaesdForOtherLatentsIsRefused() {
        Exception e = assertThrows(IllegalArgumentException.class,
                () -> Pipeline.load(sd, Backends.cpu(), LoadOptions.DEFAULT.withVaeTiny(TinyFolders.fixture("vae-tiny"))));
        assertTrue(e.getMessage().contains("1/8") && e.getMessage().contains("1/2"), e.getMessage());
    }
}
