package dev.tornadodiffusion.training;

import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.nn.unet.UNet2DConditionModel;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.ModelFiles;
import dev.tornadodiffusion.weights.StateDict;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ParametersTest {
    static final Path UNET = TinySdTrainingTest.TINY.resolve("unet");

    @Test
    void initializerBuildsTheCheckpointsKeysReproducibly() throws IOException {
        var config = UNet2DConditionModel.readConfig(UNET.resolve("config.json"));
        Parameters a = new Parameters("scratch"), b = new Parameters("scratch");
        new UNet2DConditionModel(config, new Params(a, Tape.cpu(), a.initializer(42)));
        new UNet2DConditionModel(config, new Params(b, Tape.cpu(), b.initializer(42)));
        try (StateDict stored = ModelFiles.open(UNET, null)) {
            assertEquals(stored.keys(), a.keys());
            for (String k : a.keys()) {
                assertArrayEquals(stored.get(k).shape(), a.get(k).shape(), k);
                assertArrayEquals(a.get(k).toFloatArray(), b.get(k).toFloatArray(), k);
            }
        }
        float[] w = a.get("conv_in.weight").toFloatArray();   // [16, 4, 3, 3]: fan_in 36
        double bound = 1 / Math.sqrt(36), max = 0;
        for (float v : w) max = Math.max(max, Math.abs(v));
        assertTrue(max <= bound && max > 0.8 * bound, "max |w| " + max);
        assertEquals(1f, a.get("conv_norm_out.weight").getFlat(0));
        assertEquals(0f, a.get("conv_norm_out.bias").getFlat(3));
    }

    @Test
    void savedWeightsLoadAsADiffusersFolder(@TempDir Path dir) throws IOException {
        Parameters p;
        try (StateDict w = ModelFiles.open(UNET, null)) { p = Parameters.copyOf(w); }
        p.get("conv_out.bias").set(0.5f, 1);
        java.nio.file.Files.copy(UNET.resolve("config.json"), dir.resolve("config.json"));
        p.save(dir.resolve("diffusion_pytorch_model.safetensors"), DType.F16);
        try (StateDict back = ModelFiles.open(dir, null); var unet = UNet2DConditionModel.load(dir, Tape.cpu().backend(), null)) {
            assertEquals(DType.F16, back.get("conv_out.bias").dtype());
            assertEquals(0.5f, back.get("conv_out.bias").getFlat(1));
            assertEquals(p.count(), back.keys().stream().mapToLong(k -> back.get(k).numel()).sum());
        }
    }

    @Test
    void onlyDenseF32TensorsTrain() {
        Tape tape = Tape.cpu();
        Tensor view = Tensor.of(new float[6], 2, 3).transpose(0, 1);
        assertThrows(IllegalArgumentException.class, () -> tape.track(view));
        assertThrows(IllegalArgumentException.class, () -> tape.track(Tensor.zeros(DType.F16, 3)));
        assertThrows(IllegalArgumentException.class, () -> tape.backward(Tensor.scalar(1f)));
        Parameters p = new Parameters("buffers");
        Tensor ids = p.put("position_ids", Tensor.ofLongs(new long[]{0, 1, 2}, 3)), w = p.put("w", Tensor.zeros(DType.F16, 2));
        assertEquals(DType.I64, ids.dtype());
        assertEquals(DType.F32, w.dtype());
        tape.track(p);   // the integer buffer stays a constant
        assertTrue(tape.requiresGrad(w) && !tape.requiresGrad(ids));
        var e = assertThrows(IllegalArgumentException.class, () -> Tape.of(new Float64Backend()));
        assertTrue(e.getMessage().contains("float64-reference backend"), e.getMessage());
    }
}
