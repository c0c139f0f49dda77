package dev.tornadodiffusion.nn.xlmr;

import dev.tornadodiffusion.nn.Fixtures;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Compare.Check;
import dev.tornadodiffusion.tensor.Compare;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Safetensors;
import dev.tornadodiffusion.weights.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class XlmRobertaModelTest {
    static final Path FIXTURE = Fixtures.path("xlmr-text");

    /**
     * Half-precision files are used as stored: the model over F16 (or BF16) weights equals the model over the same
     * values widened to F32 up to the kernels' accumulation order.
     */
    @Test
    void halfPrecisionWeightsAreUsedAsStored(@TempDir Path dir) throws Exception {
        Backend be = Backends.cpu();
        try (Safetensors src = Safetensors.open(FIXTURE.resolve("model.safetensors"));
             Safetensors in = Safetensors.open(FIXTURE.resolve("inputs.safetensors"))) {
            for (DType half : new DType[]{DType.F16, DType.BF16}) {
                Map<String, Tensor> stored = new LinkedHashMap<>(), widened = new LinkedHashMap<>();
                for (String k : src.keys()) {
                    Tensor h = src.get(k).to(half);
                    stored.put(k, h);
                    widened.put(k, h.to(DType.F32));
                }
                Path hd = Files.createDirectories(dir.resolve(half.name())), fd = Files.createDirectories(dir.resolve(half.name() + "-f32"));
                for (Path d : new Path[]{hd, fd}) Files.copy(FIXTURE.resolve("config.json"), d.resolve("config.json"));
                SafetensorsWriter.write(hd.resolve("model.safetensors"), stored);
                SafetensorsWriter.write(fd.resolve("model.safetensors"), widened);
                try (XlmRobertaModel h = XlmRobertaModel.load(hd, be); XlmRobertaModel f = XlmRobertaModel.load(fd, be)) {
                    assertEquals(half, h.word_embeddings.dtype());
                    Tensor a = h.forward(in.get("input_ids"), in.get("attention_mask")).last_hidden_state();
                    Tensor b = f.forward(in.get("input_ids"), in.get("attention_mask")).last_hidden_state();
                    Check c = Compare.absolute(half + " as stored", a, b, 1e-5);
                    assertTrue(c.pass(), c.toString());
                }
            }
        }
    }

}
