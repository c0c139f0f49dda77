package dev.tornadodiffusion.diffusion.pipelines;

import java.nio.file.Path;
import java.util.List;

/**
 * How to load a pipeline folder.
 *
 * @param variant  weight file variant, e.g. "fp16" for {@code *.fp16.safetensors} (null: the plain files)
 * @param unetFile a UNet-only safetensors file (e.g. SDXL-Lightning's) that replaces the folder's UNet weights, or a
 *                 diffusers UNet folder (config and weights) that replaces the folder's UNet
 * @param loras    LoRA files merged into the UNet / text encoders, each with its scale
 * @param vaeTiny  a TAESD folder (diffusers AutoencoderTiny) for the final decode and the previews, or null
 */
public record LoadOptions(String variant, Path unetFile, List<Lora> loras, Path vaeTiny) {
    public record Lora(Path file, float scale) {}

    public static final LoadOptions DEFAULT = new LoadOptions(null, null, List.of());

    public LoadOptions(String variant, Path unetFile, List<Lora> loras) {
        this(variant, unetFile, loras, null);
    }

    public LoadOptions withVaeTiny(Path folder) {
        return new LoadOptions(variant, unetFile, loras, folder);
    }

    public LoadOptions {
        loras = List.copyOf(loras);
    }
}
