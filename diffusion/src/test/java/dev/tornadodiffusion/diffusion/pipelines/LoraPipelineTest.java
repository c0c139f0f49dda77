package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Compare;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Safetensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** --lora as a user passes it: merged into the pipeline's UNet and text encoder at load time. */
class LoraPipelineTest {
    static final Path CASE = TinyFolders.fixture("lora-sd");

    static LoadOptions lora(String file, float scale) {
        return new LoadOptions(null, null, List.of(new LoadOptions.Lora(CASE.resolve(file), scale)));
    }

    @Test
    void theLoadedUNetIsTheReferenceMerge(@TempDir Path dir) throws Exception {
        Path folder = TinyFolders.sd(dir, true);
        try (Safetensors in = Safetensors.open(CASE.resolve("inputs.safetensors"));
             Safetensors out = Safetensors.open(CASE.resolve("outputs.safetensors"))) {
            for (String file : List.of("lora_kohya.safetensors", "pytorch_lora_weights.safetensors"))
                for (float scale : new float[]{1.0f, 0.5f})
                    try (var p = (StableDiffusionPipeline) Pipeline.load(folder, Backends.cpu(), lora(file, scale))) {
                        Tensor y = p.unet.forward(in.get("unet/sample"), in.get("unet/timestep"), in.get("unet/encoder_hidden_states"));
                        Compare.Check c = Compare.absolute(file + " unet", y, out.get("unet/scale_" + scale + "/sample"), 6e-5);
                        assertTrue(c.pass(), c.toString());
                        Tensor h = p.text_encoder.forward(in.get("text_encoder/input_ids")).last_hidden_state();
                        c = Compare.absolute(file + " text_encoder", h, out.get("text_encoder/scale_" + scale + "/last_hidden_state"), 4e-5);
                        assertTrue(c.pass(), c.toString());
                    }
        }
    }

    @Test
    void scaleZeroChangesNothingAndScaleOneChangesTheImage(@TempDir Path dir) throws Exception {
        Path folder = TinyFolders.sd(dir, true);
        GenerationRequest r = GenerationRequest.builder("a red fox").steps(2).seed(7).width(16).height(16).build();
        float[] plain, zero, one;
        try (Pipeline p = Pipeline.load(folder, Backends.cpu(), LoadOptions.DEFAULT)) { plain = p.generate(r, Progress.NONE).images().toFloatArray(); }
        try (Pipeline p = Pipeline.load(folder, Backends.cpu(), lora("lora_kohya.safetensors", 0f))) { zero = p.generate(r, Progress.NONE).images().toFloatArray(); }
        try (Pipeline p = Pipeline.load(folder, Backends.cpu(), lora("lora_kohya.safetensors", 1f))) { one = p.generate(r, Progress.NONE).images().toFloatArray(); }
        // the merged weights are heap copies, which the GEMM packs differently from mapped ones: equal to float rounding
        assertArrayEquals(plain, zero, 1e-6f);
        assertFalse(java.util.Arrays.equals(plain, one));
    }

    @Test
    void aLoraForAModelThePipelineLacksIsRefused(@TempDir Path dir) throws Exception {
        Path folder = TinyFolders.sd(dir, false);
        var e = assertThrows(IllegalArgumentException.class, () -> Pipeline.load(folder, Backends.cpu(), lora("lora_kohya.safetensors", 1f)));
        assertTrue(e.getMessage().contains("text_encoder"), e.getMessage());
    }
}
