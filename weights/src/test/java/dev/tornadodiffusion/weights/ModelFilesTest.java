package dev.tornadodiffusion.weights;

import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class ModelFilesTest {
    @TempDir Path dir;

    @Test
    void findsTheDiffusersWeightsOfAFixtureComponent() throws IOException {
        Path unet = Fixtures.path("pipeline-sd/unet");
        assertEquals(unet.resolve("diffusion_pytorch_model.safetensors"), ModelFiles.find(unet, null));
        try (StateDict sd = ModelFiles.open(unet)) {
            assertTrue(sd.contains("conv_in.weight"));
            assertEquals(Map.of("format", "pt"), sd.metadata());
        }
    }

    @Test
    void variantsAndTransformersNamesAndShardedIndexes() throws IOException {
        Path c = Files.createDirectory(dir.resolve("text_encoder"));
        SafetensorsWriter.write(c.resolve("model.safetensors"), Map.of("w", Tensor.scalar(1)));
        SafetensorsWriter.write(c.resolve("model.fp16.safetensors"), Map.of("w", Tensor.scalar(2).to(DType.F16)));
        assertEquals(c.resolve("model.safetensors"), ModelFiles.find(c, null));
        assertEquals(c.resolve("model.fp16.safetensors"), ModelFiles.find(c, "fp16"));
        try (StateDict sd = ModelFiles.open(c, "fp16")) { assertEquals(DType.F16, sd.get("w").dtype()); }

        Path u = Files.createDirectory(dir.resolve("unet"));
        SafetensorsWriter.write(u.resolve("shard-1.safetensors"), Map.of("a", Tensor.scalar(3)));
        Files.writeString(u.resolve("diffusion_pytorch_model.safetensors.index.fp16.json"), "{\"weight_map\":{\"a\":\"shard-1.safetensors\"}}");
        assertEquals(u.resolve("diffusion_pytorch_model.safetensors.index.fp16.json"), ModelFiles.find(u, "fp16"));
        try (StateDict sd = ModelFiles.open(u, "fp16")) { assertEquals(3f, sd.get("a").item()); }
    }

    @Test
    void namesWithAVariantFollowDiffusers() {
        assertEquals("diffusion_pytorch_model.fp16.safetensors", ModelFiles.withVariant("diffusion_pytorch_model.safetensors", "fp16"));
        assertEquals("model.safetensors.index.fp16.json", ModelFiles.withVariant("model.safetensors.index.json", "fp16"));
        assertEquals("model.safetensors", ModelFiles.withVariant("model.safetensors", null));
    }

    @Test
    void missingWeightsListWhatWasLookedForAndWhatIsThere() throws IOException {
        Path c = Files.createDirectory(dir.resolve("vae"));
        Files.writeString(c.resolve("config.json"), "{}");
        Files.write(c.resolve("diffusion_pytorch_model.bin"), new byte[4]);
        NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> ModelFiles.find(c, "fp16"));
        assertEquals(c + ": no weights of variant 'fp16' (looked for diffusion_pytorch_model.fp16.safetensors, "
                + "diffusion_pytorch_model.safetensors.index.fp16.json, model.fp16.safetensors, model.safetensors.index.fp16.json; "
                + "found diffusion_pytorch_model.bin)", e.getMessage());
        assertThrows(NoSuchFileException.class, () -> ModelFiles.find(c.resolve("nope"), null));
        WeightFormatException w = assertThrows(WeightFormatException.class, () -> ModelFiles.open(c.resolve("diffusion_pytorch_model.bin")));
        assertTrue(w.getMessage().startsWith(c.resolve("diffusion_pytorch_model.bin") + ": "), w.getMessage());   // read as a torch file, refused
        Files.write(c.resolve("model.onnx"), new byte[4]);
        w = assertThrows(WeightFormatException.class, () -> ModelFiles.open(c.resolve("model.onnx")));
        assertTrue(w.getMessage().contains("unsupported weight file format"), w.getMessage());
    }
}
