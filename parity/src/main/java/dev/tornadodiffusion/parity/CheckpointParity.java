package dev.tornadodiffusion.parity;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.nn.clip.ClipTextModel;
import dev.tornadodiffusion.nn.unet.UNet2DConditionModel;
import dev.tornadodiffusion.nn.vae.AutoencoderKL;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Compare.Check;
import dev.tornadodiffusion.weights.Json;
import dev.tornadodiffusion.weights.checkpoint.SingleFileCheckpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Runs a single-file checkpoint case ({@code ckpt-sd}, {@code ckpt-sdxl}): every container of the case
 * ({@code model.safetensors}, {@code model.ckpt}) is opened with {@link SingleFileCheckpoint}, each component it holds
 * is built from the config the case says to assume ({@code <component>/config.json}, else the one derived from the
 * keys) and run on the case inputs; every output is compared per file at the model's tolerance.
 */
public final class CheckpointParity {
    private static final List<String> FILES = List.of("model.safetensors", "model.ckpt");

    private CheckpointParity() {}

    public static List<Check> run(Path caseDir, Backend be) throws IOException {
        try (ParityCase c = ParityCase.open(caseDir)) {
            FormatChecks f = new FormatChecks(c);
            List<String> present = FILES.stream().filter(n -> Files.isRegularFile(caseDir.resolve(n))).toList();
            if (present.isEmpty()) throw new IllegalArgumentException(caseDir + ": no " + String.join(" or ", FILES));
            for (String file : present)
                try (SingleFileCheckpoint ckpt = SingleFileCheckpoint.open(caseDir.resolve(file))) {
                    for (String component : ckpt.components()) run(f, c, file, ckpt, component, be);
                }
            return f.all();
        }
    }

    private static void run(FormatChecks f, ParityCase c, String file, SingleFileCheckpoint ckpt, String component, Backend be) throws IOException {
        Path assumed = c.dir.resolve(component).resolve("config.json");
        JsonNode config = Files.isRegularFile(assumed) ? Json.read(assumed) : ckpt.config(component);
        switch (component) {
            case "unet" -> {
                try (UNet2DConditionModel unet = Runs.unet(config, ckpt.component(component), be)) { Runs.unet(f, c, file, unet, "unet/"); }
            }
            case "vae" -> {
                try (AutoencoderKL vae = Runs.vae(config, ckpt.component(component), be)) { Runs.vae(f, c, file, vae); }
            }
            default -> {
                try (ClipTextModel te = Runs.textEncoder(config, ckpt.component(component), be)) {
                    // SDXL's second tokenizer pads with 0: the plain outputs use those ids, eot_padded/ the ones padded with 49407
                    String ids = component + "/input_ids";
                    Runs.textEncoder(f, file, te, c.input(c.inputNames().contains(ids + "_pad0") ? ids + "_pad0" : ids), component + "/");
                    Runs.textEncoder(f, file, te, c.input(ids), component + "/eot_padded/");
                }
            }
        }
    }
}
