package dev.tornadodiffusion.weights.checkpoint;

import java.util.Arrays;

/**
 * The model family of a single-file checkpoint. It decides where each component's keys live and how the text
 * encoders are stored (the UNet and VAE layouts are shared), and the defaults of the original configs for what
 * the keys cannot tell (attention heads, GroupNorm groups, VAE scaling factor).
 */
public enum Architecture {
    /** Stable Diffusion 1.x (CompVis LDM): OpenAI CLIP ViT-L text encoder, 8 heads per attention. */
    SD1("sd1", "StableDiffusionPipeline", 64, 0.18215),
    /** Stable Diffusion 2.x: OpenCLIP ViT-H text encoder used at its penultimate layer, 64-channel heads. */
    SD2("sd2", "StableDiffusionPipeline", 96, 0.18215),
    /** SDXL base (Stability SGM): CLIP ViT-L + OpenCLIP bigG with projection, text_time conditioning. */
    SDXL("sdxl", "StableDiffusionXLPipeline", 128, 0.13025),
    /** SDXL refiner: OpenCLIP bigG only. */
    SDXL_REFINER("sdxl-refiner", "StableDiffusionXLImg2ImgPipeline", 128, 0.13025);

    /** The name users type ({@code --arch sdxl}). */
    public final String id;
    /** The diffusers pipeline class a converted folder names in model_index.json. */
    public final String pipelineClass;
    /** UNet {@code sample_size} (latent pixels) of the original config. */
    public final int sampleSize;
    /** VAE {@code scaling_factor} of the original config. */
    public final double scalingFactor;

    Architecture(String id, String pipelineClass, int sampleSize, double scalingFactor) {
        this.id = id;
        this.pipelineClass = pipelineClass;
        this.sampleSize = sampleSize;
        this.scalingFactor = scalingFactor;
    }

    public boolean isXl() { return this == SDXL || this == SDXL_REFINER; }

    /** The architecture called {@code id}; an unknown name is an error listing the known ones. */
    public static Architecture of(String id) {
        for (Architecture a : values()) if (a.id.equals(id)) return a;
        throw new IllegalArgumentException("unknown architecture '" + id + "' (known: "
                + String.join(", ", Arrays.stream(values()).map(a -> a.id).toList()) + ")");
    }
}
