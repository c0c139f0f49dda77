package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.diffusion.Fixtures;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Safetensors;
import dev.tornadodiffusion.weights.StateDict;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Inpainting as diffusers does it, beyond the step-by-step parity: what stays, what changes, what is refused. */
class InpaintingTest {
    static final Path CASE = Fixtures.path("pipeline-sd-inpaint");

    private static Tensor unit(Tensor u8) {
        float[] v = u8.toFloatArray();
        for (int i = 0; i < v.length; i++) v[i] /= 255f;
        return Tensor.of(v, u8.shape());
    }

    /**
     * With a normal UNet the latents outside the mask end as the init image's latents exactly (the blend after the
     * last step), whatever the prompt; inside the mask the prompt changes them.
     */
    @Test
    void aNormalUnetKeepsTheUnmaskedRegion() throws Exception {
        try (StateDict in = Safetensors.open(CASE.resolve("inputs.safetensors"));
             StateDict out = Safetensors.open(CASE.resolve("outputs.safetensors"));
             Pipeline p = Pipeline.load(CASE, Backends.cpu(), new LoadOptions(null, CASE.resolve("unet_4ch"), List.of()))) {
            Tensor mask = unit(in.get("mask_u8"));
            GenerationRequest.Builder b = GenerationRequest.builder(null).steps(6).guidanceScale(5f).seed(16010).height(16).width(24)
                    .initImage(unit(in.get("init_image_u8"))).mask(mask).strength(0.75f).sampler("euler");
            float[] first = p.generate(b.promptEmbeds(in.get("prompt_embeds")).negativePromptEmbeds(in.get("negative_prompt_embeds")).build(),
                    Progress.NONE).latents().toFloatArray();
            float[] second = p.generate(b.promptEmbeds(in.get("negative_prompt_embeds")).negativePromptEmbeds(in.get("prompt_embeds")).build(),
                    Progress.NONE).latents().toFloatArray();
            float[] init = out.get("legacy_euler_s075/image_latents").toFloatArray();
            float[] latentMask = Inpainting.latentMask(Inpainting.maskCondition(mask, 24, 16), 8, 12).toFloatArray();
            int kept = 0, changed = 0;
            for (int i = 0; i < first.length; i++) {
                if (latentMask[i % latentMask.length] == 0) {
                    assertEquals(init[i], first[i], 1e-5f, "unmasked latent " + i);
                    assertEquals(first[i], second[i], 1e-6f);
                    kept++;
                } else if (Math.abs(first[i] - second[i]) > 1e-3) {
                    changed++;
                }
            }
            assertTrue(kept > 0 && changed > 0, kept + " kept, " + changed + " changed");
        }
    }

    @Test
    void anInpaintingUnetWithoutAMaskIsRefused() throws Exception {
        try (StateDict in = Safetensors.open(CASE.resolve("inputs.safetensors"));
             Pipeline p = Pipeline.load(CASE, Backends.cpu(), LoadOptions.DEFAULT)) {
            GenerationRequest r = GenerationRequest.builder(null).steps(2).height(16).width(24)
                    .promptEmbeds(in.get("prompt_embeds")).negativePromptEmbeds(in.get("negative_prompt_embeds")).build();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> p.generate(r, Progress.NONE));
            assertTrue(e.getMessage().contains("inpainting UNet (9 input channels)"), e.getMessage());
        }
    }

    @Test
    void aMaskNeedsAnInitImage() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> GenerationRequest.builder("x").mask(Tensor.zeros(8, 8)).build());
        assertTrue(e.getMessage().contains("mask needs an init image"), e.getMessage());
    }
}
