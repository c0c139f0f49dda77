package dev.tornadodiffusion.parity;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.nn.clip.ClipTextModel;
import dev.tornadodiffusion.nn.unet.UNet2DConditionModel;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Compare.Check;
import dev.tornadodiffusion.weights.Json;
import dev.tornadodiffusion.weights.ModelFiles;
import dev.tornadodiffusion.weights.StateDict;
import dev.tornadodiffusion.weights.WeightFormatException;
import dev.tornadodiffusion.weights.lora.Lora;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs a LoRA case ({@code lora-sd}, {@code lora-sdxl}): the base models named in meta.json's {@code base_models} (sibling
 * case folders) with each LoRA file of the case ({@code lora_kohya.safetensors}, {@code pytorch_lora_weights.safetensors})
 * merged at every strength the outputs hold ({@code <model>/scale_<s>/...}), plus the base UNet alone
 * ({@code unet/base/...}); check names carry the LoRA format.
 */
public final class LoraParity {
    private static final List<String> FILES = List.of("lora_kohya.safetensors", "pytorch_lora_weights.safetensors");
    private static final Pattern SCALE = Pattern.compile("[^/]+/scale_([^/]+)/.*");

    private LoraParity() {}

    public static List<Check> run(Path caseDir, Backend be) throws IOException {
        try (ParityCase c = ParityCase.open(caseDir)) {
            FormatChecks f = new FormatChecks(c);
            List<String> files = FILES.stream().filter(n -> Files.isRegularFile(caseDir.resolve(n))).toList();
            if (files.isEmpty()) throw new IllegalArgumentException(caseDir + ": no " + String.join(" or ", FILES));
            TreeSet<String> scales = new TreeSet<>();
            for (String name : c.outputNames()) {
                Matcher m = SCALE.matcher(name);
                if (m.matches()) scales.add(m.group(1));
            }
            for (Map.Entry<String, JsonNode> base : c.meta.path("base_models").properties()) {
                String component = base.getKey();
                Path folder = caseDir.resolveSibling(base.getValue().asText());
                JsonNode config = Json.read(folder.resolve("config.json"));
                // a model closes the weights it is built on: the base run gets its own, the LoRA runs overlays of the shared ones
                if (component.equals("unet")) run(f, c, "base", component, config, ModelFiles.open(folder), "unet/base/", be);
                try (StateDict weights = ModelFiles.open(folder)) {
                    for (String file : files) {
                        Lora lora = Lora.load(caseDir.resolve(file));
                        for (String s : scales)
                            run(f, c, lora.format(), component, config, lora.applyTo(weights, component, Float.parseFloat(s)), component + "/scale_" + s + "/", be);
                    }
                }
            }
            return f.all();
        }
    }

    private static void run(FormatChecks f, ParityCase c, String label, String component, JsonNode config, StateDict weights, String out, Backend be) {
        if (component.equals("unet")) {
            try (UNet2DConditionModel unet = Runs.unet(config, weights, be)) { Runs.unet(f, c, label, unet, out); }
        } else if (component.startsWith("text_encoder")) {
            try (ClipTextModel te = Runs.textEncoder(config, weights, be)) { Runs.textEncoder(f, label, te, c.input(component + "/input_ids"), out); }
        } else throw new WeightFormatException(c.dir.resolve("meta.json") + ": base model '" + component + "' is not a UNet or text encoder");
    }
}
