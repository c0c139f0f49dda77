package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.diffusion.Fixtures;
import dev.tornadodiffusion.tensor.Compare;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Safetensors;
import dev.tornadodiffusion.weights.StateDict;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The mask preparation of diffusers' inpainting pipelines against the fixtures' recorded tensors. */
class InpaintingMaskTest {

    @ParameterizedTest
    @ValueSource(strings = {"pipeline-sd-inpaint", "pipeline-sdxl-inpaint"})
    void maskConditionMaskedImageAndLatentMaskAreExact(String caseName) throws Exception {
        try (StateDict in = Safetensors.open(Fixtures.path(caseName).resolve("inputs.safetensors"));
             StateDict out = Safetensors.open(Fixtures.path(caseName).resolve("outputs.safetensors"))) {
            String run = caseName.contains("sdxl") ? "euler_default_strength/" : "ddim_s1/";
            Tensor maskU8 = in.get("mask_u8"), imageU8 = in.get("init_image_u8");
            int h = maskU8.dim(0), w = maskU8.dim(1);
            float[] m = maskU8.toFloatArray();
            for (int i = 0; i < m.length; i++) m[i] /= 255f;
            Tensor condition = Inpainting.maskCondition(Tensor.of(m, h, w), w, h);
            check(Compare.exact(run + "mask_condition", condition, out.get(run + "mask_condition")));

            // image_processor.preprocess: pixels / 255 * 2 - 1, NCHW
            float[] px = imageU8.toFloatArray(), vae = new float[px.length];
            for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) for (int c = 0; c < 3; c++)
                vae[(c * h + y) * w + x] = px[(y * w + x) * 3 + c] / 255f * 2 - 1;
            Tensor init = Tensor.of(vae, 1, 3, h, w);
            check(Compare.exact(run + "init_image", init, out.get(run + "init_image")));
            check(Compare.exact(run + "masked_image", Inpainting.maskedImage(init, condition), out.get(run + "masked_image")));

            Tensor expectedMask = out.get(run + "mask");
            Tensor latentMask = Inpainting.latentMask(condition, expectedMask.dim(2), expectedMask.dim(3));
            check(Compare.exact(run + "mask", latentMask, expectedMask.narrow(0, 0, 1)));
        }
    }

    private static void check(Compare.Check c) {
        assertTrue(c.pass(), c.toString());
    }
}
