package dev.tornadodiffusion.training.tasks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.SafetensorsWriter;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Writing the parts of a model folder: config files and weights. */
final class Configs {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private Configs() {}

    static void write(Path file, JsonNode json) throws IOException {
        JSON.writeValue(file.toFile(), json);
    }

    /** Floating tensors converted to {@code dtype}, other (integer buffers) as they are. */
    static void saveWeights(Path file, Map<String, Tensor> weights, DType dtype) throws IOException {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (var e : weights.entrySet()) out.put(e.getKey(), e.getValue().dtype().floating && e.getValue().dtype() != dtype ? e.getValue().to(dtype) : e.getValue());
        SafetensorsWriter.write(file, out);
    }

    static ObjectMapper mapper() { return JSON; }
}
