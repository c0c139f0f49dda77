package dev.tornadodiffusion.nn.xlmr;

import dev.tornadodiffusion.nn.Fixtures;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Compare;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Safetensors;
import dev.tornadodiffusion.weights.SafetensorsWriter;
import dev.tornadodiffusion.weights.WeightFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The text embedding over a combined text + vision file laid out like mexma-siglip, made from the xlmr-text case. */
class MexmaTextEncoderTest {
    static final Path FIXTURE = Fixtures.path("xlmr-text");
    final Backend be = Backends.cpu();

    /** text_model.* = the fixture's tower, a projection, and vision / logit tensors the encoder must not need. */
    static Map<String, Tensor> combined(Safetensors tower, String projectionName, int[] projectionShape) {
        Map<String, Tensor> all = new LinkedHashMap<>();
        for (String k : tower.keys()) all.put("text_model." + k, tower.get(k));
        if (projectionName != null) all.put(projectionName + ".weight", random(projectionShape, 5));
        all.put("vision_model.embeddings.patch_embedding.weight", random(new int[]{8, 3, 2, 2}, 6));
        all.put("logit_scale", random(new int[]{1}, 7));
        return all;
    }

    static Tensor random(int[] shape, long seed) {
        Random r = new Random(seed);
        int n = 1;
        for (int d : shape) n *= d;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian() * 0.2f;
        return Tensor.of(v, shape);
    }

    static void writeConfig(Path dir) throws IOException {
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"mexma-siglip\", \"text_config\": " + Files.readString(FIXTURE.resolve("config.json")) + "}");
    }

    @Test
    void clsOfTheTowerThroughTheCheckpointsProjection(@TempDir Path dir) throws Exception {
        try (Safetensors tower = Safetensors.open(FIXTURE.resolve("model.safetensors"));
             Safetensors ref = Safetensors.open(FIXTURE.resolve("outputs.safetensors"));
             Safetensors in = Safetensors.open(FIXTURE.resolve("inputs.safetensors"))) {
            Map<String, Tensor> all = combined(tower, "text_projector", new int[]{24, 32});
            SafetensorsWriter.write(dir.resolve("model.safetensors"), all);
            writeConfig(dir);
            try (MexmaTextEncoder enc = MexmaTextEncoder.load(dir, be, 24)) {
                int[][] ids = rows(in.get("input_ids")), mask = rows(in.get("attention_mask"));
                Tensor got = enc.encode(ids, mask);
                Tensor want = be.linear(ref.get("cls"), all.get("text_projector.weight"), null);
                Compare.Check c = Compare.absolute("projected cls", got, want, 3e-5);
                assertTrue(c.pass(), c.toString());
            }
            // a [hidden, width] matrix (x @ P) is accepted too, and width = hidden needs no projection
            all.put("text_projector.weight", all.get("text_projector.weight").transpose(0, 1).contiguous());
            SafetensorsWriter.write(dir.resolve("model.safetensors"), all);
            try (MexmaTextEncoder enc = MexmaTextEncoder.load(dir, be, 24)) {
                Tensor got = enc.encode(rows(in.get("input_ids")), rows(in.get("attention_mask")));
                Tensor want = be.matmul(ref.get("cls"), all.get("text_projector.weight"));
                assertTrue(Compare.absolute("x @ P", got, want, 3e-5).pass());
            }
            try (MexmaTextEncoder enc = MexmaTextEncoder.load(dir, be, 32)) {
                assertNull(enc.projection);
                Compare.Check c = Compare.absolute("cls", enc.encode(rows(in.get("input_ids")), rows(in.get("attention_mask"))), ref.get("cls"), 3e-5);
                assertTrue(c.pass(), c.toString());
            }
        }
    }

    @Test
    void missingProjectionOrHeadsAreOneLineErrors(@TempDir Path dir) throws Exception {
        try (Safetensors tower = Safetensors.open(FIXTURE.resolve("model.safetensors"))) {
            SafetensorsWriter.write(dir.resolve("model.safetensors"), combined(tower, "text_projector", new int[]{16, 32}));
            writeConfig(dir);
            WeightFormatException e = assertThrows(WeightFormatException.class, () -> MexmaTextEncoder.load(dir, be, 24));
            assertTrue(e.getMessage().contains("needs 24") && e.getMessage().contains("text_projector"), e.getMessage());
            Files.delete(dir.resolve("config.json"));   // shapes alone: hidden 32 cannot be split into 64-dim heads
            e = assertThrows(WeightFormatException.class, () -> MexmaTextEncoder.load(dir, be, 16));
            assertTrue(e.getMessage().contains("multiple of 64"), e.getMessage());
        }
    }

    static int[][] rows(Tensor t) {
        long[] v = t.toLongArray();
        int b = t.dim(0), n = t.dim(1);
        int[][] out = new int[b][n];
        for (int i = 0; i < b; i++) for (int j = 0; j < n; j++) out[i][j] = (int) v[i * n + j];
        return out;
    }
}
