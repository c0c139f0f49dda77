package dev.tornadodiffusion.nn.unet;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Compare;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Json;
import dev.tornadodiffusion.weights.Safetensors;
import dev.tornadodiffusion.weights.StateDict;
import dev.tornadodiffusion.weights.WeightFormatException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a UNet fixture case ({@code unet-sd}, {@code unet-sd2}, {@code unet-sdxl}: a diffusers model folder plus
 * inputs.safetensors, outputs.safetensors and meta.json) and compares every output with the reference.
 * <p>
 * {@code sample} is the output for the scalar int64 {@code timestep}, {@code sample_timesteps_batch} for the per-sample
 * float {@code timesteps_batch}; both must be within meta.json's {@code tolerance.max_abs}. The {@code debug/*}
 * intermediates of the first call are checked against the same tolerance scaled by the reference's largest magnitude
 * when that exceeds 1 (float32 rounding error grows with the activations; meta.json: "compare relative to their magnitude").
 */
public final class UNetParity {
    private UNetParity() {}

    public static List<Compare.Check> run(Path caseDir, Backend be) throws IOException {
        JsonNode meta = Json.read(caseDir.resolve("meta.json"));
        JsonNode tol = meta.path("tolerance").path("max_abs");
        if (!tol.isNumber()) throw new WeightFormatException(caseDir.resolve("meta.json") + ": no number at tolerance.max_abs");
        double maxAbs = tol.doubleValue();

        List<Compare.Check> checks = new ArrayList<>();
        try (StateDict in = Safetensors.open(caseDir.resolve("inputs.safetensors"));
             StateDict out = Safetensors.open(caseDir.resolve("outputs.safetensors"));
             UNet2DConditionModel unet = UNet2DConditionModel.load(caseDir, be, null)) {
            Tensor sample = in.get("sample"), context = in.get("encoder_hidden_states");
            Tensor textEmbeds = in.contains("text_embeds") ? in.get("text_embeds") : null;
            Tensor timeIds = in.contains("time_ids") ? in.get("time_ids") : null;

            Map<String, Tensor> debug = new LinkedHashMap<>();
            Tensor first = unet.forward(sample, in.get("timestep"), context, textEmbeds, timeIds, null, (name, t) -> debug.put("debug/" + name, t));
            checks.add(Compare.absolute("sample", first, out.get("sample"), maxAbs));
            Tensor batched = unet.forward(sample, in.get("timesteps_batch"), context, textEmbeds, timeIds);
            checks.add(Compare.absolute("sample_timesteps_batch", batched, out.get("sample_timesteps_batch"), maxAbs));

            for (String key : out.keys()) {
                if (!key.startsWith("debug/")) continue;
                Tensor expected = out.get(key), actual = debug.get(key);
                if (actual == null) throw new WeightFormatException(caseDir.resolve("outputs.safetensors") + ": the model produced no intermediate for '" + key + "'");
                checks.add(Compare.absolute(key, actual, expected, maxAbs * Math.max(1, maxMagnitude(expected))));
            }
        }
        return checks;
    }

    private static double maxMagnitude(Tensor t) {
        double m = 0;
        for (float v : t.toFloatArray()) m = Math.max(m, Math.abs(v));
        return m;
    }
}
