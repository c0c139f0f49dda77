package dev.tornadodiffusion.parity;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Compare.Check;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** Which code runs each kind of reference case, and how a case's kind is read from its meta.json. */
public final class ParityKinds {
    private ParityKinds() {}

    /** How one kind of case is run: the checks it produced, one per output tensor. */
    public interface Kind {
        List<Check> run(Path caseDir, Backend backend) throws Exception;
    }

    private static final Map<String, Kind> KINDS = Map.ofEntries(
            Map.entry("unet", UNetParity::run),
            Map.entry("pipeline", PipelineParity::run),
            Map.entry("vae", VaeParity::run),
            Map.entry("clip-text", ClipTextParity::run),
            Map.entry("clip-tokenizer", ClipTokenizerParity::run),
            Map.entry("tld-denoiser", TldParity::run),
            Map.entry("ckpt", CheckpointParity::run),
            Map.entry("pth", TorchFileParity::run),
            Map.entry("lora", LoraParity::run),
            Map.entry("scheduler", SchedulerParity::run),
            Map.entry("torch-rng", TorchRngParity::run),
            Map.entry("pickle-hostile", PickleHostileParity::run),
            Map.entry("prompt-weighting", PromptWeightingParity::run),
            Map.entry("vae-tiny", VaeTinyParity::run),
            Map.entry("pipeline-inpaint", InpaintParity::run),
            Map.entry("xlmr-tokenizer", XlmrTokenizerParity::run),
            Map.entry("xlmr-text", XlmrTextParity::run),
            Map.entry("pipeline-sdxs", SdxsParity::run)
    );

    /** The runner of a kind, or null when that kind is not supported. */
    public static Kind get(String kind) { return KINDS.get(kind); }

    /** The case kind: from the upstream class that produced it, else from the case name's prefix. */
    public static String kindOf(JsonNode meta) {
        String cls = meta.path("producer").path("class").asText("");
        if (cls.endsWith("UNet2DConditionModel")) return "unet";
        if (cls.endsWith("AutoencoderKL")) return "vae";
        if (cls.endsWith("AutoencoderTiny")) return "vae-tiny";
        if (cls.endsWith("Scheduler")) return "scheduler";
        if (cls.endsWith("StableDiffusionXLPipeline") || cls.endsWith("StableDiffusionPipeline")) return "pipeline";
        if (cls.endsWith("InpaintPipeline")) return "pipeline-inpaint";
        String name = meta.path("case").asText("");
        name = name.substring(name.lastIndexOf('/') + 1);
        for (String prefix : List.of("clip-text", "clip-tokenizer", "tld-denoiser", "torch-rng", "ckpt", "pth", "pickle-hostile", "lora", "prompt-weighting"))
            if (name.startsWith(prefix)) return prefix;
        return name.isEmpty() ? "unknown" : name;
    }
}
