package dev.tornadodiffusion.nn.unet;

import dev.tornadodiffusion.nn.Fixtures;
import dev.tornadodiffusion.nn.MapStateDict;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Compare;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Safetensors;
import dev.tornadodiffusion.weights.StateDict;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The fixture UNets with every weight rounded to float16, run as stored (no F32 copy), against the float32 reference.
 * <p>
 * Tolerance: rounding a weight to F16 changes it by at most 2^-11 (4.9e-4) relative, on average ~2.8e-4 (uniform);
 * over a dot product the independent errors partly cancel, and through the ~40 sequential layers of these UNets they
 * add up like a random walk, giving about 2.8e-4 * sqrt(40) = 1.8e-3 of the output's scale. We allow 5e-3 of the
 * largest reference magnitude, and also require the error to be far above float32 noise (so the weights really are F16).
 */
class UNetF16Test {
    static final double REL_TOL = 5e-3;

    @ParameterizedTest
    @ValueSource(strings = {"unet-sd", "unet-sd2", "unet-sdxl"})
    void f16WeightsStayCloseToFloat32Reference(String name) throws IOException {
        Path dir = Fixtures.path(name);
        MapStateDict half = new MapStateDict();
        try (StateDict f32 = Safetensors.open(dir.resolve("diffusion_pytorch_model.safetensors"));
             StateDict in = Safetensors.open(dir.resolve("inputs.safetensors"));
             StateDict out = Safetensors.open(dir.resolve("outputs.safetensors"))) {
            for (String k : f32.keys()) half.put(k, f32.get(k).to(DType.F16));
            UNet2DConditionModel unet = UNet2DConditionModel.load(UNet2DConditionModel.readConfig(dir.resolve("config.json")), half, Backends.cpu());
            assertEquals(DType.F16, unet.conv_in.weight.dtype());

            Tensor textEmbeds = in.contains("text_embeds") ? in.get("text_embeds") : null;
            Tensor timeIds = in.contains("time_ids") ? in.get("time_ids") : null;
            Tensor y = unet.forward(in.get("sample"), in.get("timesteps_batch"), in.get("encoder_hidden_states"), textEmbeds, timeIds);
            Tensor expected = out.get("sample_timesteps_batch");
            double scale = 0;
            for (float v : expected.toFloatArray()) scale = Math.max(scale, Math.abs(v));
            Compare.Check c = Compare.absolute(name + " f16 weights", y, expected, REL_TOL * scale);
            System.out.println(c);
            assertTrue(c.pass(), c.toString());
            assertTrue(c.maxRel() > 1e-5, "F16 rounding should be visible: " + c);
        }
    }
}
