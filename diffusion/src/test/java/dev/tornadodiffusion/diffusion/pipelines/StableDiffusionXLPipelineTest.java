package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.weights.Safetensors;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Compare;
import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * SDXL on the pipeline-sdxl fixture models (unet cross_attention_dim 56 = 32 + 24, pooled 16 + 6 time ids x 8),
 * with the clip-text fixtures as the two text encoders: the pipeline-sdxl embeddings are those encoders' outputs
 * for "a photograph of an astronaut riding a horse" and "".
 */
class StableDiffusionXLPipelineTest {
    static final Backend BE = Backends.cpu();
    static final String PROMPT = "a photograph of an astronaut riding a horse";
    static Safetensors inputs, outputs;

    @BeforeAll
    static void open() throws IOException {
        inputs = Safetensors.open(TinyFolders.fixture("pipeline-sdxl").resolve("inputs.safetensors"));
        outputs = Safetensors.open(TinyFolders.fixture("pipeline-sdxl").resolve("outputs.safetensors"));
    }

    @AfterAll
    static void close() {
        inputs.close();
        outputs.close();
    }

    static StableDiffusionXLPipeline load(Path dir) throws IOException {
        return (StableDiffusionXLPipeline) Pipeline.load(dir, BE, LoadOptions.DEFAULT);
    }

    @Test
    void promptTextGivesTheReferenceImage(@TempDir Path dir) throws IOException {
        try (StableDiffusionXLPipeline p = load(TinyFolders.sdxl(dir, "StableDiffusionXLPipeline", "scheduler_euler_cfg5", true, ""))) {
            GenerationResult r = p.generate(GenerationRequest.builder(PROMPT).negativePrompt("").steps(6).guidanceScale(5f)
                    .width(24).height(16).latents(inputs.get("latents")).build(), Progress.NONE);
            Compare.Check c = Compare.relative("image", r.images(), outputs.get("euler_cfg5/image"), 5e-4);
            assertTrue(c.pass(), c.toString());
            assertTrue(r.parameters().get("parameters").startsWith(PROMPT + "\nNegative prompt: \nSteps: 6"), r.parameters().toString());
        }
    }

    /** Lightning style from a leading-spacing folder: "euler-trailing", guidance 0 (no CFG) = the reference lightning run. */
    @Test
    void trailingSamplerWithoutGuidanceGivesTheLightningRun(@TempDir Path dir) throws IOException {
        try (StableDiffusionXLPipeline p = load(TinyFolders.sdxl(dir, "StableDiffusionXLPipeline", "scheduler_euler_cfg5", true, ""))) {
            List<Tensor> outputs4 = new ArrayList<>();
            GenerationResult r = p.generate(GenerationRequest.builder(PROMPT).sampler("euler-trailing").steps(4).guidanceScale(0f)
                    .width(24).height(16).latents(inputs.get("latents")).build(), new Progress() {
                @Override public boolean wantsModelOutput() { return true; }
                @Override public void modelOutput(int step, Tensor o) { outputs4.add(o); }
            });
            assertEquals(1, outputs4.getFirst().dim(0), "guidance 0: no unconditional batch half");
            Compare.Check c = Compare.relative("image", r.images(), outputs.get("lightning/image"), 5e-4);
            assertTrue(c.pass(), c.toString());
            assertTrue(r.parameters().get("parameters").contains("Sampler: Euler, Timestep spacing: trailing, CFG scale: 0.0"), r.parameters().toString());
        }
    }

    @Test
    void encodesBothTextEncodersAndZeroesTheEmptyNegative(@TempDir Path dir) throws IOException {
        try (StableDiffusionXLPipeline zeros = load(TinyFolders.sdxl(dir.resolve("a"), "StableDiffusionXLPipeline", "scheduler", true, ""));
             StableDiffusionXLPipeline encoded = load(TinyFolders.sdxl(dir.resolve("b"), "StableDiffusionXLPipeline", "scheduler", true,
                     ", \"force_zeros_for_empty_prompt\": false"))) {
            GenerationRequest r = GenerationRequest.builder(PROMPT).batch(2).build();
            Conditioning.Prompt z = zeros.encodePrompt(r, plan(true));
            assertClose(Batch.repeat(BE, inputs.get("prompt_embeds"), 2), z.states());
            assertClose(Batch.repeat(BE, inputs.get("pooled_prompt_embeds"), 2), z.pooled());
            assertArrayEquals(new int[]{2, 77, 56}, z.negativeStates().shape());
            assertEquals(0, maxAbs(z.negativeStates()));
            assertEquals(0, maxAbs(z.negativePooled()));

            Conditioning.Prompt e = encoded.encodePrompt(r, plan(true));
            assertClose(Batch.repeat(BE, inputs.get("negative_prompt_embeds"), 2), e.negativeStates());
            assertClose(Batch.repeat(BE, inputs.get("negative_pooled_prompt_embeds"), 2), e.negativePooled());
            assertNull(zeros.encodePrompt(r, plan(false)).negativeStates(), "no negative without guidance");
        }
    }

    /** Base stopped at denoising_end then continued from denoising_start with its latents = the uninterrupted run. */
    @Test
    void denoisingEndThenStartContinuesTheSameRun(@TempDir Path dir) throws IOException {
        try (StableDiffusionXLPipeline base = load(TinyFolders.fixture("pipeline-sdxl"));
             StableDiffusionXLPipeline refiner = load(TinyFolders.sdxl(dir, "StableDiffusionXLImg2ImgPipeline", "scheduler", false, ""))) {
            GenerationRequest full = embedsRequest().steps(4).guidanceScale(5f).build();
            List<Tensor> fullSteps = new ArrayList<>(), firstSteps = new ArrayList<>(), secondSteps = new ArrayList<>();
            Tensor expected = base.generate(full, recorder(fullSteps)).latents();
            Tensor half = base.generate(full.toBuilder().denoisingEnd(0.5f).build(), recorder(firstSteps)).latents();
            Tensor rest = refiner.generate(full.toBuilder().denoisingStart(0.5f).latents(half).build(), recorder(secondSteps)).latents();
            assertEquals(2, firstSteps.size(), "trailing 4 steps, cutoff 500: 999 and 749 before it");
            assertEquals(2, secondSteps.size());
            Compare.Check c = Compare.relative("latents", rest, expected, 1e-6);
            assertTrue(c.pass(), c.toString());
        }
    }

    @Test
    void refinerOnlyDoesImageToImage(@TempDir Path dir) throws IOException {
        try (StableDiffusionXLPipeline refiner = load(TinyFolders.sdxl(dir, "StableDiffusionXLImg2ImgPipeline", "scheduler", false, ""))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> refiner.generate(embedsRequest().build(), Progress.NONE));
            assertTrue(e.getMessage().contains("image-to-image"), e.getMessage());
        }
    }

    @Test
    void imageToImageKeepsTheImageSizeAndRunsTheStrengthsShare() throws IOException {
        try (StableDiffusionXLPipeline p = load(TinyFolders.fixture("pipeline-sdxl"))) {
            Tensor image = randomImage(3, 20, 27);   // this VAE's scale factor is 2
            GenerationRequest r = embedsRequest().width(null).height(null).latents(null).initImage(image).strength(0.5f).steps(4).guidanceScale(5f).seed(9).build();
            List<Tensor> steps = new ArrayList<>();
            GenerationResult a = p.generate(r, recorder(steps));
            GenerationResult b = p.generate(r, Progress.NONE);
            assertArrayEquals(new int[]{1, 20, 26, 3}, a.images().shape(), "size cut to a multiple of the VAE scale factor");
            assertEquals(2, steps.size());
            assertEquals(0, maxAbs(BE.sub(a.images(), b.images())), "same seed, same image");
            GenerationResult other = p.generate(r.toBuilder().seed(10).build(), Progress.NONE);
            assertTrue(maxAbs(BE.sub(a.images(), other.images())) > 1e-3, "another seed, other noise");
        }
    }

    /** diffusers' arrangements: txt2img repeats [negative, positive]; img2img puts the negatives first, with the positive crops. */
    @Test
    void timeIdsFollowDiffusers() throws IOException {
        try (StableDiffusionXLPipeline p = load(TinyFolders.fixture("pipeline-sdxl"))) {
            GenerationRequest r = embedsRequest().sizeConditioning(new GenerationRequest.SizeConditioning(null, new int[]{4, 8}, null,
                    new int[]{32, 48}, new int[]{1, 2}, new int[]{40, 56}, 6f, 2.5f)).build();
            float[] txt = p.addTimeIds(r, 16, 24, 2, true, false).contiguousF32().array();
            assertArrayEquals(new float[]{32, 48, 1, 2, 40, 56, 16, 24, 4, 8, 16, 24, 32, 48, 1, 2, 40, 56, 16, 24, 4, 8, 16, 24}, txt);
            float[] img = p.addTimeIds(r, 16, 24, 2, true, true).contiguousF32().array();
            assertArrayEquals(new float[]{32, 48, 4, 8, 40, 56, 32, 48, 4, 8, 40, 56, 16, 24, 4, 8, 16, 24, 16, 24, 4, 8, 16, 24}, img);
            float[] noCfg = p.addTimeIds(embedsRequest().sizeConditioning(new GenerationRequest.SizeConditioning(new int[]{1024, 768}, null, null, null, null, null, 6f, 2.5f)).build(), 16, 24, 1, false, false).contiguousF32().array();
            assertArrayEquals(new float[]{1024, 768, 0, 0, 16, 24}, noCfg);
        }
    }

    @Test
    void aestheticScoreTimeIds(@TempDir Path dir) throws IOException {
        try (StableDiffusionXLPipeline p = load(TinyFolders.sdxl(dir, "StableDiffusionXLImg2ImgPipeline", "scheduler", false,
                ", \"requires_aesthetics_score\": true"))) {
            GenerationRequest r = embedsRequest().aestheticScore(7f).build();
            assertArrayEquals(new float[]{16, 24, 0, 0, 2.5f, 16, 24, 0, 0, 7f}, p.addTimeIds(r, 16, 24, 1, true, true).contiguousF32().array());
            // this UNet was built for 6 time ids: 5 give 56 features, not 64
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> p.generate(r.toBuilder().initImage(randomImage(1, 16, 24)).build(), Progress.NONE));
            assertTrue(e.getMessage().contains("requires_aesthetics_score"), e.getMessage());
        }
    }

    @Test
    void badRequestsAreOneLineErrors() throws IOException {
        try (StableDiffusionXLPipeline p = load(TinyFolders.fixture("pipeline-sdxl"))) {
            assertTrue(assertThrows(IllegalArgumentException.class, () -> p.generate(GenerationRequest.builder("a cat").build(), Progress.NONE))
                    .getMessage().contains("has no text encoder"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> p.generate(GenerationRequest.builder(null)
                    .promptEmbeds(inputs.get("prompt_embeds")).build(), Progress.NONE)).getMessage().contains("pooled"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> p.generate(embedsRequest().latents(null).denoisingStart(0.5f).build(), Progress.NONE))
                    .getMessage().contains("denoising start needs"));
            assertThrows(IllegalArgumentException.class, () -> embedsRequest().denoisingStart(0.6f).denoisingEnd(0.4f).build());
            assertThrows(IllegalArgumentException.class, () -> embedsRequest().denoisingEnd(1f).build());
        }
    }

    static GenerationRequest.Builder embedsRequest() {
        return GenerationRequest.builder(null).width(24).height(16).latents(inputs.get("latents"))
                .promptEmbeds(inputs.get("prompt_embeds")).negativePromptEmbeds(inputs.get("negative_prompt_embeds"))
                .pooledPromptEmbeds(inputs.get("pooled_prompt_embeds")).negativePooledPromptEmbeds(inputs.get("negative_pooled_prompt_embeds"));
    }

    static Progress recorder(List<Tensor> steps) {
        return new Progress() {
            @Override public void step(int step, int total, double s, Tensor latents) { steps.add(latents); }
        };
    }

    /** A text-to-image plan at 64x64, with or without classifier-free guidance, for calling encodePrompt alone. */
    static Plan plan(boolean doCfg) {
        return new Plan(1, 7.5f, doCfg, false, new ImageSize(64, 64, "size"));
    }

    static Tensor randomImage(long seed, int h, int w) {
        Random r = new Random(seed);
        float[] v = new float[h * w * 3];
        for (int i = 0; i < v.length; i++) v[i] = r.nextFloat();
        return Tensor.of(v, h, w, 3);
    }

    static double maxAbs(Tensor t) {
        double m = 0;
        for (long i = 0; i < t.numel(); i++) m = Math.max(m, Math.abs(t.getFlat(i)));
        return m;
    }

    static void assertClose(Tensor expected, Tensor actual) {
        Compare.Check c = Compare.absolute("embeddings", actual, expected, 6e-5);
        assertTrue(c.pass(), c.toString());
    }
}
