package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.weights.Safetensors;
import dev.tornadodiffusion.diffusion.image.ImageTensors;
import dev.tornadodiffusion.diffusion.TorchGenerator;
import dev.tornadodiffusion.diffusion.schedulers.TldSampler;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Compare;
import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** TLD on the fixture models: tld-denoiser (8x8x4 latents, text_emb_size 32), clip-text-quickgelu, vae-sd (16x16 images). */
class TLDPipelineTest {
    static final Backend BE = Backends.cpu();
    static final String PROMPT = "a photograph of an astronaut riding a horse";
    static final String DEFAULTS = "{\"n_iter\": 5, \"class_guidance\": 3, \"use_ddpm_plus\": true}";

    static TLDPipeline load(Path dir) throws IOException {
        return (TLDPipeline) Pipeline.load(dir, BE, LoadOptions.DEFAULT);
    }

    /** The pipeline = encode_text, torch.randn with the seed, TldSampler, vae.decode(x0 * 8), (x + 1) / 2 clamped. */
    @Test
    void generatesWhatTheSamplerMakesFromTheSeededNoise(@TempDir Path dir) throws IOException {
        try (TLDPipeline p = load(TinyFolders.tld(dir, false, DEFAULTS))) {
            GenerationResult r = p.generate(GenerationRequest.builder(PROMPT).seed(2024).build(), Progress.NONE);
            assertArrayEquals(new int[]{1, 16, 16, 3}, r.images().shape());

            Tensor label = p.encodePrompt(PROMPT);
            Tensor noise = new TorchGenerator(2024).randn(1, 4, 8, 8);
            Tensor x0 = Denoising.run(new TldSampler(p.denoiser, BE).steps(label, TldSampler.noiseLevels(5, 1), new TldSampler.Settings(3, true, 0, 0), null), noise, Progress.NONE);
            assertEquals(0, maxAbs(BE.sub(r.latents(), x0)));
            Tensor decoded = p.vae.decode(BE.scale(x0, 8f));
            assertEquals(0, maxAbs(BE.sub(r.images(), ImageTensors.fromDecoded(decoded))));
            assertTrue(r.parameters().get("parameters").contains("Steps: 5, Sampler: dpm++2m, CFG scale: 3.0, Seed: 2024, Size: 16x16"));
        }
    }

    /** The label is CLIP's projected end-of-text state: the clip-text fixture's text_embeds for this prompt. */
    @Test
    void labelIsTheProjectedClipEmbedding(@TempDir Path dir) throws IOException {
        try (TLDPipeline p = load(TinyFolders.tld(dir, false, DEFAULTS));
             Safetensors out = Safetensors.open(TinyFolders.fixture("clip-text-quickgelu").resolve("outputs.safetensors"))) {
            Compare.Check c = Compare.absolute("text_embeds", p.encodePrompt(PROMPT), out.get("text_embeds").narrow(0, 0, 1), 6e-5);
            assertTrue(c.pass(), c.toString());
        }
    }

    @Test
    void batchesAreDeterministicAndDistinct(@TempDir Path dir) throws IOException {
        try (TLDPipeline p = load(TinyFolders.tld(dir, false, DEFAULTS))) {
            GenerationRequest r = GenerationRequest.builder(PROMPT).seed(5).batch(2).steps(3).build();
            int[] calls = {0};
            GenerationResult a = p.generate(r, new Progress() {
                @Override public void step(int step, int total, double s, Tensor latents) {
                    calls[0]++;
                    assertEquals(3, total);
                }
            });
            GenerationResult b = p.generate(r, Progress.NONE);
            assertEquals(3, calls[0]);
            assertArrayEquals(new int[]{2, 16, 16, 3}, a.images().shape());
            assertEquals(0, maxAbs(BE.sub(a.images(), b.images())));
            assertTrue(maxAbs(BE.sub(a.image(0), a.image(1))) > 1e-3, "each image has its own noise");
            GenerationResult ddim = p.generate(r.toBuilder().sampler("ddim").build(), Progress.NONE);
            assertTrue(maxAbs(BE.sub(a.images(), ddim.images())) > 1e-4, "DDIM updates differ from DPM-Solver++(2M)");
        }
    }

    /** TLD ships its denoiser as a torch state dict: the folder may hold that instead of model.safetensors. */
    @Test
    void readsTheDenoiserStateDictTldShips(@TempDir Path dir) throws IOException {
        try (TLDPipeline st = load(TinyFolders.tld(dir.resolve("a"), false, DEFAULTS));
             TLDPipeline pth = load(TinyFolders.tld(dir.resolve("b"), true, DEFAULTS))) {
            GenerationRequest r = GenerationRequest.builder(PROMPT).seed(1).steps(2).build();
            assertEquals(0, maxAbs(BE.sub(st.generate(r, Progress.NONE).images(), pth.generate(r, Progress.NONE).images())));
        }
    }

    @Test
    void unsupportedRequestsAreOneLineErrors(@TempDir Path dir) throws IOException {
        try (TLDPipeline p = load(TinyFolders.tld(dir, false, "{}"))) {
            assertEquals(15, p.n_iter);
            assertEquals(6f, p.class_guidance);
            assertMessage(p, GenerationRequest.builder(PROMPT).width(32).build(), "16x16");
            assertMessage(p, GenerationRequest.builder(PROMPT).sampler("euler").build(), "dpm++2m or ddim");
            assertMessage(p, GenerationRequest.builder(PROMPT).negativePrompt("blurry").build(), "negative");
            assertMessage(p, GenerationRequest.builder(PROMPT).initImage(Tensor.zeros(16, 16, 3)).build(), "init image");
        }
    }

    static void assertMessage(TLDPipeline p, GenerationRequest r, String part) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> p.generate(r, Progress.NONE));
        assertTrue(e.getMessage().contains(part), e.getMessage());
    }

    static double maxAbs(Tensor t) {
        double m = 0;
        for (long i = 0; i < t.numel(); i++) m = Math.max(m, Math.abs(t.getFlat(i)));
        return m;
    }
}
