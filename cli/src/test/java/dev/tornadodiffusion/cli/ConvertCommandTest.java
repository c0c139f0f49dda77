package dev.tornadodiffusion.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.nn.unet.UNet2DConditionModel;
import dev.tornadodiffusion.nn.vae.AutoencoderKL;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Compare;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Json;
import dev.tornadodiffusion.weights.Safetensors;
import dev.tornadodiffusion.weights.StateDict;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.*;

class ConvertCommandTest {
    static final Path FIXTURES = Path.of(System.getProperty("fixtures.dir", "../../shared/fixtures"));

    @TempDir Path dir;

    static String convert(String... args) throws Exception {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (PrintStream out = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
            assertEquals(0, new ConvertCommand(out).run(args));
        }
        return buf.toString(StandardCharsets.UTF_8);
    }

    /** Same keys, and per key the same dtype, shape and bytes. */
    static void assertSameTensors(StateDict expected, StateDict actual) {
        assertEquals(new TreeSet<>(expected.keys()), new TreeSet<>(actual.keys()));
        for (String k : expected.keys()) {
            Tensor e = expected.get(k).contiguous(), a = actual.get(k).contiguous();
            assertEquals(e.dtype(), a.dtype(), k);
            assertArrayEquals(e.shape(), a.shape(), k);
            assertEquals(-1, e.segment().asSlice(0, e.byteSize()).mismatch(a.segment().asSlice(0, a.byteSize())), k);
        }
    }

    /**
     * ckpt -> diffusers folder (with the case's configs): the folder's UNet and VAE give the case's outputs, as the single
     * file does; the folder converted back is the original single file, tensor for tensor.
     */
    @Test
    void checkpointToFolderAndBack() throws Exception {
        Path ckpt = FIXTURES.resolve("ckpt-sd");
        Path folder = dir.resolve("sd");
        String log = convert(ckpt.resolve("model.ckpt").toString(), folder.toString(), "--config", ckpt.toString());
        assertTrue(log.startsWith(ckpt.resolve("model.ckpt") + ": sd1 checkpoint with unet, vae"), log);
        JsonNode index = Json.read(folder.resolve("model_index.json"));
        assertEquals("StableDiffusionPipeline", index.get("_class_name").asText());
        assertEquals("UNet2DConditionModel", index.get("unet").get(1).asText());
        assertTrue(index.get("text_encoder").get(1).isNull());
        assertEquals(Json.read(ckpt.resolve("unet/config.json")), Json.read(folder.resolve("unet/config.json")));
        assertEquals("EulerDiscreteScheduler", Json.read(folder.resolve("scheduler/scheduler_config.json")).get("_class_name").asText());

        try (Safetensors in = Safetensors.open(ckpt.resolve("inputs.safetensors")); Safetensors out = Safetensors.open(ckpt.resolve("outputs.safetensors"));
             UNet2DConditionModel unet = UNet2DConditionModel.load(folder.resolve("unet"), Backends.cpu(), null);
             AutoencoderKL vae = AutoencoderKL.load(folder.resolve("vae"), Backends.cpu(), null)) {
            Tensor sample = unet.forward(in.get("unet/sample"), in.get("unet/timestep"), in.get("unet/encoder_hidden_states"));
            Compare.Check c = Compare.absolute("unet/sample", sample, out.get("unet/sample"), 6e-5);
            assertTrue(c.pass(), c.toString());
            c = Compare.absolute("vae/decode.sample", vae.decode(in.get("vae/latent")), out.get("vae/decode.sample"), 6e-5);
            assertTrue(c.pass(), c.toString());
        }

        Path back = dir.resolve("back.safetensors");
        convert(folder.toString(), back.toString());
        try (Safetensors original = Safetensors.open(ckpt.resolve("model.safetensors")); Safetensors written = Safetensors.open(back)) {
            assertSameTensors(original, written);
        }
    }

    /** SDXL's OpenCLIP encoder (packed q/k/v, transposed projection) survives file -> folder -> file unchanged. */
    @Test
    void sdxlRoundTrip() throws Exception {
        Path folder = dir.resolve("xl"), back = dir.resolve("xl.safetensors");
        convert(FIXTURES.resolve("ckpt-sdxl/model.safetensors").toString(), folder.toString());
        assertEquals("CLIPTextModelWithProjection", Json.read(folder.resolve("model_index.json")).get("text_encoder_2").get(1).asText());
        try (Safetensors te2 = Safetensors.open(folder.resolve("text_encoder_2/model.safetensors"));
             Safetensors source = Safetensors.open(FIXTURES.resolve("clip-text-gelu/model.safetensors"))) {
            assertEquals(new TreeSet<>(source.keys()), new TreeSet<>(te2.keys()));
            assertArrayEquals(new int[]{16, 24}, te2.get("text_projection.weight").shape());
        }
        convert(folder.toString(), back.toString());
        try (Safetensors original = Safetensors.open(FIXTURES.resolve("ckpt-sdxl/model.safetensors")); Safetensors written = Safetensors.open(back)) {
            assertSameTensors(original, written);
        }
    }

    /** A torch state dict (legacy format) becomes a safetensors file with the same tensors; --half makes its floats F16. */
    @Test
    void pthToSafetensors() throws Exception {
        Path out = dir.resolve("tld.safetensors"), half = dir.resolve("tld16.safetensors");
        convert(FIXTURES.resolve("pth-tld/state_dict_legacy.pth").toString(), out.toString());
        convert(FIXTURES.resolve("pth-tld/state_dict.pth").toString(), half.toString(), "--half");
        try (Safetensors expected = Safetensors.open(FIXTURES.resolve("tld-denoiser/model.safetensors"));
             Safetensors written = Safetensors.open(out); Safetensors written16 = Safetensors.open(half)) {
            assertSameTensors(expected, written);
            assertEquals(DType.I64, written16.get("denoiser_trans_block.precomputed_pos_enc").dtype());
            Tensor w = written16.get("label_proj.weight");
            assertEquals(DType.F16, w.dtype());
            assertArrayEquals(expected.get("label_proj.weight").to(DType.F16).toFloatArray(), w.toFloatArray());
        }
    }

    @Test
    void badArgumentsAreOneLineErrors() throws Exception {
        ConvertCommand c = new ConvertCommand(new PrintStream(new ByteArrayOutputStream()));
        Path ckpt = FIXTURES.resolve("ckpt-sd/model.safetensors");
        assertThrows(UsageException.class, () -> c.run(new String[]{ckpt.toString()}));
        assertThrows(UsageException.class, () -> c.run(new String[]{FIXTURES.resolve("pipeline-sd").toString(), dir.resolve("x").toString()}));
        assertThrows(IllegalArgumentException.class, () -> c.run(new String[]{ckpt.toString(), dir.toString(), "--arch", "sd3"}));
        Files.writeString(dir.resolve("taken.txt"), "x");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> c.run(new String[]{ckpt.toString(), dir.toString()}));
        assertEquals(dir + ": folder is not empty; give a new or empty folder", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> c.run(new String[]{dir.resolve("taken.txt").toString(), dir.resolve("y").toString()}));
        assertTrue(e.getMessage().contains("unsupported weight file format"), e.getMessage());
    }
}
