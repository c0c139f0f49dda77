package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.diffusion.Fixtures;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Safetensors;
import dev.tornadodiffusion.weights.SafetensorsWriter;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/** Small pipeline folders assembled from the reference fixtures' random-weight models. */
final class TinyFolders {
    private TinyFolders() {}

    static Path fixture(String name) {
        return Fixtures.path(name);
    }

    /**
     * An SDXL folder: pipeline-sdxl's UNet and VAE with the scheduler of {@code schedulerFolder}, and with
     * {@code textEncoders} text_encoder = clip-text-quickgelu, text_encoder_2 = clip-text-gelu, both tokenizers the
     * CLIP vocabulary (padding with the end token, as the pipeline-sdxl embeddings were made). Without, the folder
     * takes prompt embeddings only (this UNet's cross_attention_dim 56 needs both encoders, so no refiner-like
     * text_encoder_2-only folder can be made from it).
     */
    static Path sdxl(Path dir, String className, String schedulerFolder, boolean textEncoders, String extraIndexJson) throws IOException {
        Path sdxl = fixture("pipeline-sdxl");
        copy(sdxl.resolve("unet"), dir.resolve("unet"), "config.json", "diffusion_pytorch_model.safetensors");
        copy(sdxl.resolve("vae"), dir.resolve("vae"), "config.json", "diffusion_pytorch_model.safetensors");
        copy(sdxl.resolve(schedulerFolder), dir.resolve("scheduler"), "scheduler_config.json");
        if (textEncoders) {
            copy(fixture("clip-text-quickgelu"), dir.resolve("text_encoder"), "config.json", "model.safetensors");
            copy(fixture("clip-tokenizer"), dir.resolve("tokenizer"), "vocab.json", "merges.txt");
            copy(fixture("clip-text-gelu"), dir.resolve("text_encoder_2"), "config.json", "model.safetensors");
            copy(fixture("clip-tokenizer"), dir.resolve("tokenizer_2"), "vocab.json", "merges.txt");
        }
        String none = "[null, null]";
        String te = textEncoders ? "[\"transformers\", \"CLIPTextModel\"]" : none, tok = textEncoders ? "[\"transformers\", \"CLIPTokenizer\"]" : none;
        String te2 = textEncoders ? "[\"transformers\", \"CLIPTextModelWithProjection\"]" : none;
        Files.writeString(dir.resolve("model_index.json"), """
                {"_class_name": "%s", "_diffusers_version": "0.27.2",
                 "text_encoder": %s, "tokenizer": %s, "text_encoder_2": %s, "tokenizer_2": %s,
                 "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
                 "scheduler": ["diffusers", "EulerDiscreteScheduler"]%s}
                """.formatted(className, te, tok, te2, tok, extraIndexJson));
        return dir;
    }

    /**
     * An SD 1.x folder: the unet-sd UNet, vae-sd, pipeline-sd's DDIM scheduler, and with {@code textEncoder} the
     * clip-text-quickgelu encoder (width 32 = the UNet's cross_attention_dim) and the CLIP tokenizer.
     */
    static Path sd(Path dir, boolean textEncoder) throws IOException {
        copy(fixture("unet-sd"), dir.resolve("unet"), "config.json", "diffusion_pytorch_model.safetensors");
        copy(fixture("vae-sd"), dir.resolve("vae"), "config.json", "diffusion_pytorch_model.safetensors");
        copy(fixture("pipeline-sd").resolve("scheduler"), dir.resolve("scheduler"), "scheduler_config.json");
        if (textEncoder) {
            copy(fixture("clip-text-quickgelu"), dir.resolve("text_encoder"), "config.json", "model.safetensors");
            copy(fixture("clip-tokenizer"), dir.resolve("tokenizer"), "vocab.json", "merges.txt");
        }
        String te = textEncoder ? "[\"transformers\", \"CLIPTextModel\"]" : "[null, null]";
        String tok = textEncoder ? "[\"transformers\", \"CLIPTokenizer\"]" : "[null, null]";
        Files.writeString(dir.resolve("model_index.json"), """
                {"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.27.2",
                 "text_encoder": %s, "tokenizer": %s,
                 "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
                 "scheduler": ["diffusers", "DDIMScheduler"]}
                """.formatted(te, tok));
        return dir;
    }

    /**
     * A TLD folder: denoiser = tld-denoiser (or its .pth state dict with {@code pth}), text_encoder =
     * clip-text-quickgelu (projects to the denoiser's text_emb_size 32), tokenizer, vae = vae-sd (16x16 images).
     */
    static Path tld(Path dir, boolean pth, String sampler) throws IOException {
        if (pth) {
            copy(fixture("pth-tld"), dir.resolve("denoiser"), "config.json", "state_dict.pth");
        } else {
            copy(fixture("tld-denoiser"), dir.resolve("denoiser"), "config.json", "model.safetensors");
        }
        copy(fixture("clip-text-quickgelu"), dir.resolve("text_encoder"), "config.json", "model.safetensors");
        copy(fixture("clip-tokenizer"), dir.resolve("tokenizer"), "vocab.json", "merges.txt");
        copy(fixture("vae-sd"), dir.resolve("vae"), "config.json", "diffusion_pytorch_model.safetensors");
        Files.writeString(dir.resolve("model_index.json"), """
                {"_class_name": "TLDPipeline",
                 "denoiser": ["tld", "Denoiser"], "text_encoder": ["transformers", "CLIPTextModelWithProjection"],
                 "tokenizer": ["transformers", "CLIPTokenizer"], "vae": ["diffusers", "AutoencoderKL"],
                 "vae_scale_factor": 8, "sampler": %s}
                """.formatted(sampler));
        return dir;
    }

    /**
     * A folder laid out like AiArtLab/sdxs: pipeline-sdxs's UNet (cross_attention_dim 24), 16-channel VAE and DDPM
     * scheduler (no model_index.json: the card loads components one by one), tokenizer/ = xlmr-tokenizer, and
     * text_encoder/ laid out like mexma-siglip: one file with the xlmr-text tower as text_model.*, a [24, 32]
     * text_projector and vision tensors, config.json with the tower's config as text_config.
     */
    static Path sdxs(Path dir) throws IOException {
        Path sdxs = fixture("pipeline-sdxs");
        copy(sdxs.resolve("unet"), dir.resolve("unet"), "config.json", "diffusion_pytorch_model.safetensors");
        copy(sdxs.resolve("vae"), dir.resolve("vae"), "config.json", "diffusion_pytorch_model.safetensors");
        copy(sdxs.resolve("scheduler"), dir.resolve("scheduler"), "scheduler_config.json");
        copy(fixture("xlmr-tokenizer"), dir.resolve("tokenizer"), "tokenizer.json", "tokenizer_config.json");
        Path te = Files.createDirectories(dir.resolve("text_encoder"));
        Map<String, Tensor> all = new LinkedHashMap<>();
        try (Safetensors tower = Safetensors.open(fixture("xlmr-text").resolve("model.safetensors"))) {
            for (String k : tower.keys()) all.put("text_model." + k, tower.get(k).contiguous());
        }
        Random r = new Random(14);
        float[] proj = new float[24 * 32], patch = new float[8 * 3 * 2 * 2];
        for (int i = 0; i < proj.length; i++) proj[i] = (float) (r.nextGaussian() / Math.sqrt(32));
        all.put("text_projector.weight", Tensor.of(proj, 24, 32));
        all.put("vision_model.embeddings.patch_embedding.weight", Tensor.of(patch, 8, 3, 2, 2));
        SafetensorsWriter.write(te.resolve("model.safetensors"), all);
        Files.writeString(te.resolve("config.json"), "{\"model_type\": \"mexma-siglip\", \"text_config\": "
                + Files.readString(fixture("xlmr-text").resolve("config.json")) + "}");
        return dir;
    }

    private static void copy(Path from, Path to, String... names) throws IOException {
        Files.createDirectories(to);
        for (String n : names) Files.copy(from.resolve(n), to.resolve(n));
    }
}
