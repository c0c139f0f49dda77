package dev.tornadodiffusion.examples;

import dev.tornadodiffusion.diffusion.TorchRngParity;
import dev.tornadodiffusion.diffusion.pipelines.PipelineParity;
import dev.tornadodiffusion.diffusion.pipelines.SdxsParity;
import dev.tornadodiffusion.diffusion.schedulers.SchedulerParity;
import dev.tornadodiffusion.nn.clip.ClipTextParity;
import dev.tornadodiffusion.nn.clip.ClipTokenizerParity;
import dev.tornadodiffusion.nn.formats.CheckpointParity;
import dev.tornadodiffusion.nn.formats.LoraParity;
import dev.tornadodiffusion.nn.formats.TorchFileParity;
import dev.tornadodiffusion.nn.tld.TldParity;
import dev.tornadodiffusion.nn.tokenizers.XlmrTokenizerParity;
import dev.tornadodiffusion.nn.unet.UNetParity;
import dev.tornadodiffusion.nn.vae.VaeParity;
import dev.tornadodiffusion.nn.xlmr.XlmrTextParity;
import dev.tornadodiffusion.weights.torch.PickleHostileParity;

import java.util.Map;

/** Which code runs each kind of reference case (see ParityCommand.kindOf). */
final class ParityKinds {
    private ParityKinds() {}

    private static final Map<String, ParityCommand.Kind> KINDS = Map.ofEntries(
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
            Map.entry("xlmr-tokenizer", XlmrTokenizerParity::run),
            Map.entry("xlmr-text", XlmrTextParity::run),
            Map.entry("pipeline-sdxs", SdxsParity::run)
    );

    static ParityCommand.Kind get(String kind) { return KINDS.get(kind); }
}
