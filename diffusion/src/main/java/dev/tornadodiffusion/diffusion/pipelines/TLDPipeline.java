package dev.tornadodiffusion.diffusion.pipelines;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.diffusion.TorchGenerator;
import dev.tornadodiffusion.diffusion.image.ImageTensors;
import dev.tornadodiffusion.weights.JsonConfig;
import dev.tornadodiffusion.nn.clip.ClipTextModel;
import dev.tornadodiffusion.nn.clip.ClipTokenizer;
import dev.tornadodiffusion.nn.tld.Denoiser;
import dev.tornadodiffusion.nn.tld.DenoiserConfig;
import dev.tornadodiffusion.diffusion.schedulers.TldSampler;
import dev.tornadodiffusion.nn.vae.AutoencoderKL;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.ModelFiles;
import dev.tornadodiffusion.weights.StateDict;
import dev.tornadodiffusion.weights.WeightFormatException;
import dev.tornadodiffusion.weights.torch.TorchCheckpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * TLD text-to-image (apapiu/transformer_latent_diffusion, {@code DiffusionTransformer.generate_image_from_text}):
 * the prompt's pooled, projected CLIP text embedding ({@code clip_model.encode_text}, not normalised) conditions the
 * transformer denoiser; {@link TldSampler} runs DPM-Solver++(2M) or DDIM on its x0 predictions with classifier-free
 * guidance against a zero embedding, starting from {@code torch.randn([batch, n_channels, image_size, image_size])}
 * drawn with the seed; the result times {@code vae_scale_factor} is decoded by the VAE.
 *
 * <p>Folder layout (diffusers-like, so {@link Pipeline#load} recognises it):
 * <pre>
 * model_index.json   {"_class_name": "TLDPipeline",
 *                     "denoiser": ["tld", "Denoiser"], "text_encoder": ["transformers", "CLIPTextModelWithProjection"],
 *                     "tokenizer": ["transformers", "CLIPTokenizer"], "vae": ["diffusers", "AutoencoderKL"],
 *                     "vae_scale_factor": 8,
 *                     "sampler": {"n_iter": 15, "class_guidance": 6, "use_ddpm_plus": true, "exponent": 1,
 *                                 "sharp_f": 0, "bright_f": 0}}
 * denoiser/          config.json (tld.configs.DenoiserConfig fields: image_size, noise_embed_dims, patch_size,
 *                    embed_dim, n_layers, text_emb_size, mlp_multiplier, n_channels) and model.safetensors, or
 *                    the state dict TLD ships (one .pt / .pth file, read without executing its pickle)
 * text_encoder/      CLIP ViT-L/14's text tower with projection as a CLIPTextModelWithProjection folder (config.json,
 *                    model.safetensors), e.g. what transformers' CLIPTextModelWithProjection.from_pretrained(
 *                    "openai/clip-vit-large-patch14").save_pretrained(...) writes
 * tokenizer/         its CLIP tokenizer (vocab.json, merges.txt)
 * vae/               AutoencoderKL (TLD uses madebyollin/sdxl-vae-fp16-fix)
 * </pre>
 * vae_scale_factor and the sampler settings are optional; the defaults above are TLD's inference defaults
 * (generate_image_from_text). A request's steps, guidance and sampler ("dpm++2m" or "ddim") override n_iter,
 * class_guidance and use_ddpm_plus. Images are {@code image_size * 2^(vae levels - 1)} pixels square.
 * {@link Progress#step} receives the x_t each model call ends at (the final x0 after the last).
 */
public final class TLDPipeline implements Pipeline {
    final Path folder;
    final ClipTokenizer tokenizer;
    final ClipTextModel text_encoder;
    final Denoiser denoiser;
    final AutoencoderKL vae;
    final float vae_scale_factor;
    final int n_iter;
    final float class_guidance;
    final boolean use_ddpm_plus;
    final double exponent;
    final float sharp_f, bright_f;
    final Backend be;

    TLDPipeline(Path folder, ClipTokenizer tokenizer, ClipTextModel textEncoder, Denoiser denoiser, AutoencoderKL vae, JsonNode settings, Backend be) {
        this.folder = folder;
        this.tokenizer = tokenizer;
        this.text_encoder = textEncoder;
        this.denoiser = denoiser;
        this.vae = vae;
        this.be = be;
        Path index = folder.resolve("model_index.json");
        JsonNode sampler = settings.path("sampler");
        this.vae_scale_factor = (float) number(settings, "vae_scale_factor", 8, index);
        this.n_iter = (int) number(sampler, "n_iter", 15, index);
        this.class_guidance = (float) number(sampler, "class_guidance", 6, index);
        this.exponent = number(sampler, "exponent", 1, index);
        this.sharp_f = (float) number(sampler, "sharp_f", 0, index);
        this.bright_f = (float) number(sampler, "bright_f", 0, index);
        JsonNode ddpmPlus = sampler.path("use_ddpm_plus");
        if (!ddpmPlus.isMissingNode() && !ddpmPlus.isBoolean()) throw new WeightFormatException(index + ": sampler.use_ddpm_plus must be true or false");
        this.use_ddpm_plus = ddpmPlus.asBoolean(true);
        if (n_iter < 2) throw new WeightFormatException(index + ": sampler.n_iter must be at least 2, got " + n_iter);
        DenoiserConfig dc = denoiser.config;
        if (textEncoder.text_projection == null || textEncoder.config.projection_dim() != dc.text_emb_size())
            throw new WeightFormatException(folder.resolve("text_encoder") + ": TLD needs a CLIP text encoder with a projection to the denoiser's text_emb_size "
                    + dc.text_emb_size() + (textEncoder.text_projection == null ? " (model_index.json must name CLIPTextModelWithProjection)" : ", it projects to " + textEncoder.config.projection_dim()));
        if (vae.config.latent_channels() != dc.n_channels())
            throw new WeightFormatException(folder.resolve("vae/config.json") + ": latent_channels " + vae.config.latent_channels() + " differs from the denoiser's n_channels " + dc.n_channels());
    }

    static TLDPipeline load(Path dir, JsonNode mi, Backend be, LoadOptions o) throws IOException {
        if (o.unetFile() != null) throw new IllegalArgumentException(dir + " is a TLD pipeline: it has no UNet to replace (--unet)");
        if (!o.loras().isEmpty()) throw new IllegalArgumentException(dir + " is a TLD pipeline: LoRA files are not supported for it");
        Path denoiserDir = Pipelines.component(dir, mi, "denoiser");
        DenoiserConfig dc = DenoiserConfig.from(JsonConfig.read(denoiserDir.resolve("config.json")));
        Denoiser denoiser = StateDict.loadOrClose(denoiserWeights(denoiserDir), w -> Denoiser.load(dc, w, be));
        ClipTokenizer tok = ClipTokenizer.load(Pipelines.component(dir, mi, "tokenizer"));
        ClipTextModel te = Pipelines.loadTextEncoder(dir, mi, "text_encoder", be, o);
        AutoencoderKL vae = AutoencoderKL.load(Pipelines.component(dir, mi, "vae"), be, o.variant());
        return new TLDPipeline(dir, tok, te, denoiser, vae, mi, be);
    }

    /** model.safetensors, else the one .pt / .pth state dict in the folder (TLD's own release format). */
    private static StateDict denoiserWeights(Path dir) throws IOException {
        try {
            return ModelFiles.open(dir);
        } catch (NoSuchFileException e) {
            List<Path> pth;
            try (Stream<Path> files = Files.list(dir)) {
                pth = files.filter(f -> f.toString().endsWith(".pt") || f.toString().endsWith(".pth")).sorted().toList();
            }
            if (pth.size() != 1) throw e;
            return TorchCheckpoint.load(pth.getFirst());
        }
    }

    private static double number(JsonNode node, String key, double fallback, Path source) {
        JsonNode v = node.path(key);
        if (v.isMissingNode() || v.isNull()) return fallback;
        if (!v.isNumber()) throw new WeightFormatException(source + ": " + key + " must be a number, got " + v);
        return v.asDouble();
    }

    @Override
    public String description() {
        DenoiserConfig c = denoiser.config;
        return "TLDPipeline " + folder.getFileName() + " (denoiser " + c.n_layers() + " layers x " + c.embed_dim() + ", "
                + c.image_size() + "x" + c.image_size() + " latents, " + (use_ddpm_plus ? "DPM-Solver++(2M)" : "DDIM") + " " + n_iter + " steps)";
    }

    @Override public int defaultWidth() { return denoiser.config.image_size() * vae.config.downscale(); }

    @Override public int defaultHeight() { return defaultWidth(); }

    @Override
    public GenerationResult generate(GenerationRequest r, Progress progress) {
        if (r.initImage() != null || r.handoff().denoisingStart() != null || r.handoff().denoisingEnd() != null)
            throw new IllegalArgumentException("TLD generates from text only: no init image, denoising start or end");
        if (r.negativePrompt() != null || r.embeddings().negativePrompt() != null || r.embeddings().negativePooledPrompt() != null)
            throw new IllegalArgumentException("TLD has no negative prompt: its guidance is against a zero text embedding");
        if (r.guidanceRescale() > 0 || r.clipSkip() > 0) throw new IllegalArgumentException("TLD supports neither guidance rescale nor clip skip");
        int size = defaultWidth();
        if (r.width() != null && r.width() != size || r.height() != null && r.height() != size)
            throw new IllegalArgumentException(folder + " makes " + size + "x" + size + " images (denoiser image_size " + denoiser.config.image_size() + ")");
        int steps = r.steps() == null ? n_iter : r.steps();
        if (steps < 2) throw new IllegalArgumentException("TLD needs at least 2 steps, got " + steps);
        float guidance = r.guidanceScale() == null ? class_guidance : r.guidanceScale();
        boolean ddpmPlus = ddpmPlus(r.sampler());

        progress.stage("text encoder");
        Tensor label = r.embeddings().pooledPrompt() != null ? r.embeddings().pooledPrompt() : encodePrompt(r.prompt());
        if (label.rank() != 2 || label.dim(1) != denoiser.config.text_emb_size())
            throw new IllegalArgumentException("TLD text embeddings must be [n, " + denoiser.config.text_emb_size() + "], got " + java.util.Arrays.toString(label.shape()));
        Tensor labels = Batch.repeatEach(be, label, r.batch());
        int n = labels.dim(0), s = denoiser.config.image_size();
        Tensor noise = r.latents() != null ? r.latents() : new TorchGenerator(r.seed()).randn(n, denoiser.config.n_channels(), s, s);

        TldSampler.Settings settings = new TldSampler.Settings(guidance, ddpmPlus, sharp_f, bright_f);
        Tensor x0 = Denoising.run(new TldSampler(denoiser, be).steps(labels, TldSampler.noiseLevels(steps, exponent), settings, null), noise, progress);

        progress.stage("vae decode");
        Tensor images = ImageTensors.fromDecoded(decodeRaw(x0));
        String sampler = ddpmPlus ? "dpm++2m" : "ddim";
        return new GenerationResult(images, x0, Map.of("parameters", Pipelines.parameters(r, steps, guidance, size, size, sampler, folder)));
    }

    /** The VAE's output [B, 3, H, W] for the sampler's x0 (TLD: {@code vae.decode(x0 * scale_factor)}). */
    Tensor decodeRaw(Tensor x0) {
        return vae.decodeTimes(x0, vae_scale_factor);
    }

    /** {@code encode_text}: CLIP's projected end-of-text state for the prompt, cut to 77 tokens ([1, text_emb_size]). */
    Tensor encodePrompt(String prompt) {
        return text_encoder.textEmbeds(tokenizer.inputIds(prompt));
    }

    private boolean ddpmPlus(String sampler) {
        if (sampler == null) return use_ddpm_plus;
        return switch (sampler.toLowerCase(Locale.ROOT)) {
            case "dpm++2m", "dpmsolvermultistepscheduler" -> true;
            case "ddim", "ddimscheduler" -> false;
            default -> throw new IllegalArgumentException("TLD samples with dpm++2m or ddim, not '" + sampler + "'");
        };
    }

    @Override
    public void close() {
        denoiser.close();
        text_encoder.close();
        vae.close();
    }
}
