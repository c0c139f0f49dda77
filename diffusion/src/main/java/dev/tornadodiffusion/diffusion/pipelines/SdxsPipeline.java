package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.diffusion.schedulers.SchedulerConfig;
import dev.tornadodiffusion.nn.tokenizers.Tokenizer;
import dev.tornadodiffusion.nn.tokenizers.TokenizerJson;
import dev.tornadodiffusion.nn.unet.UNet2DConditionModel;
import dev.tornadodiffusion.nn.vae.AutoencoderKL;
import dev.tornadodiffusion.nn.xlmr.MexmaTextEncoder;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.WeightFormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * AiArtLab/sdxs as its model card samples it: the prompt and the negative prompt are tokenized (XLM-R Unigram,
 * padded / truncated to 512) and embedded by mexma-siglip's text tower ({@code encode_texts}: one vector per
 * prompt, made one conditioning token), {@code torch.manual_seed(seed)} then {@code randn(B, 16, H/8, W/8)}, a
 * DDPM loop with classifier-free guidance (negative first, guidance 5.5) whose variance noise comes from the same
 * generator, and {@code vae.decode(latents / scaling_factor + shift_factor)}: {@link UNetPipeline}'s skeleton with
 * this conditioning (the card's loop is that skeleton: init_noise_sigma and scale_model_input are 1 and the identity
 * for DDPM).
 *
 * <p>Folder: {@code unet/}, {@code vae/} (16 latent channels), {@code scheduler/} (DDPMScheduler),
 * {@code text_encoder/} (a mexma-siglip download, or a link to one) and {@code tokenizer/} (its tokenizer.json;
 * when absent, the text encoder folder's). Without the text encoder the pipeline takes conditioning embeddings.
 */
public final class SdxsPipeline extends UNetPipeline {
    /** The card's defaults. */
    public static final int DEFAULT_SIZE = 576;
    public static final float DEFAULT_GUIDANCE = 5.5f;
    /** The card tokenizes with {@code padding="max_length", max_length=512, truncation=True}. */
    public static final int MAX_LENGTH = 512;

    final Tokenizer tokenizer;
    final MexmaTextEncoder text_encoder;

    private SdxsPipeline(Path folder, Tokenizer tokenizer, MexmaTextEncoder textEncoder, UNet2DConditionModel unet, AutoencoderKL vae,
                         SchedulerConfig scheduler, Backend be) {
        super(folder, unet, vae, scheduler, be);
        this.tokenizer = tokenizer;
        this.text_encoder = textEncoder;
    }

    /**
     * Whether {@code dir} is laid out like AiArtLab/sdxs: unet/ and vae/, and an XLM-R text side (a
     * tokenizer.json in tokenizer/ or text_encoder/, and no CLIP vocab.json).
     */
    public static boolean isSdxsFolder(Path dir) {
        return Files.isDirectory(dir.resolve("unet")) && Files.isDirectory(dir.resolve("vae"))
                && !Files.exists(dir.resolve("tokenizer").resolve("vocab.json"))
                && (Files.isRegularFile(dir.resolve("tokenizer").resolve("tokenizer.json")) || Files.isRegularFile(dir.resolve("text_encoder").resolve("tokenizer.json")));
    }

    /**
     * @param textEncoder a mexma-siglip folder to use instead of {@code dir/text_encoder} (null: that one, when present)
     */
    public static SdxsPipeline load(Path dir, Backend be, LoadOptions o, Path textEncoder) throws IOException {
        for (String c : List.of("unet", "vae", "scheduler"))
            if (!Files.isDirectory(dir.resolve(c))) throw new WeightFormatException(dir + ": an sdxs folder needs " + c + "/ (and has no " + dir.resolve(c) + ")");
        Path te = textEncoder != null ? textEncoder : dir.resolve("text_encoder");
        Path tokFolder = Files.isRegularFile(dir.resolve("tokenizer").resolve("tokenizer.json")) ? dir.resolve("tokenizer") : te;
        SchedulerConfig sc = SchedulerConfig.read(dir.resolve("scheduler").resolve("scheduler_config.json"));
        UNet2DConditionModel unet = Pipelines.loadUnet(dir.resolve("unet"), be, o);
        AutoencoderKL vae = null;
        MexmaTextEncoder enc = null;
        try {
            vae = AutoencoderKL.load(dir.resolve("vae"), be, o.variant());
            if (vae.config.latent_channels() != unet.config.in_channels())
                throw new WeightFormatException(dir + ": the VAE has " + vae.config.latent_channels() + " latent channels but the UNet takes " + unet.config.in_channels());
            Tokenizer tok = Files.isRegularFile(tokFolder.resolve("tokenizer.json")) ? TokenizerJson.load(tokFolder) : null;
            if (Files.isDirectory(te)) {
                if (tok == null) throw new WeightFormatException(dir + ": the text encoder " + te + " has no tokenizer.json beside it and there is no tokenizer/tokenizer.json");
                enc = MexmaTextEncoder.load(te, be, crossDim(unet));
                if (tok.vocabSize() > enc.model.config.vocab_size())
                    throw new WeightFormatException(tokFolder + ": the tokenizer has " + tok.vocabSize() + " ids but the text encoder only " + enc.model.config.vocab_size());
            }
            return new SdxsPipeline(dir, tok, enc, unet, vae, sc, be);
        } catch (RuntimeException | IOException e) {
            unet.close();
            if (vae != null) vae.close();
            if (enc != null) enc.close();
            throw e;
        }
    }

    @Override
    public String description() {
        return "SdxsPipeline " + folder.getFileName() + " (unet " + unet.config.block_out_channels().length + " levels, "
                + unet.config.in_channels() + " latent channels, text " + (text_encoder == null ? "none (embeddings only)"
                : "XLM-R " + text_encoder.model.config.num_hidden_layers() + " layers -> " + text_encoder.width) + ", scheduler " + scheduler.className() + ")";
    }

    @Override float defaultGuidance() { return DEFAULT_GUIDANCE; }

    @Override int defaultSampleSize() { return DEFAULT_SIZE / 8; }

    /** The card's 576x576, whatever the UNet config's sample_size says. */
    @Override public int defaultWidth() { return DEFAULT_SIZE; }

    @Override public int defaultHeight() { return DEFAULT_SIZE; }

    @Override
    void checkRequest(GenerationRequest r, boolean img2img) {
        if (r.clipSkip() > 0 || r.handoff().denoisingStart() != null || r.embeddings().pooledPrompt() != null)
            throw new IllegalArgumentException("sdxs: clip skip, a denoising start and pooled embeddings are not part of this pipeline");
    }

    /** The card's conditioning: one token per prompt, negative prompt "" unless given; precomputed embeddings [B, D] or [B, 1, D]. */
    @Override
    Conditioning.Prompt encodePrompt(GenerationRequest r, Plan plan) {
        boolean doCfg = plan.doCfg();
        Tensor cond = r.embeddings().prompt() != null ? oneToken(r.embeddings().prompt()) : encodePrompts(List.of(r.prompt()));
        Tensor negative = null;
        if (doCfg) {
            Tensor uncond = r.embeddings().negativePrompt() != null ? oneToken(r.embeddings().negativePrompt())
                    : encodePrompts(List.of(r.negativePrompt() == null ? "" : r.negativePrompt()));
            negative = Batch.repeatEach(be, uncond, r.batch());
        }
        return new Conditioning.Prompt(Batch.repeatEach(be, cond, r.batch()), negative);
    }

    @Override
    PreparedLatents.Img2ImgTimesteps img2imgTimesteps() { return PreparedLatents.Img2ImgTimesteps.STRENGTH; }

    @Override
    public UNetPipeline withScheduler(SchedulerConfig config) {
        return new SdxsPipeline(folder, tokenizer, text_encoder, unet, vae, config, be);
    }

    /** {@code encode_texts(tokenizer(prompts, padding="max_length", max_length=512, truncation=True))} as one token each: [n, 1, D]. */
    public Tensor encodePrompts(List<String> prompts) {
        if (text_encoder == null) throw new IllegalArgumentException(folder + " has no text_encoder/ (mexma-siglip): pass conditioning embeddings instead of a prompt");
        int maxLength = Math.min(MAX_LENGTH, text_encoder.model.config.max_position_embeddings() - text_encoder.model.config.pad_token_id() - 1);
        int[][] ids = new int[prompts.size()][], mask = new int[prompts.size()][];
        for (int i = 0; i < ids.length; i++) {
            Tokenizer.Encoding e = tokenizer.encode(prompts.get(i), maxLength);
            ids[i] = e.input_ids();
            mask[i] = e.attention_mask();
        }
        Tensor emb = text_encoder.encode(ids, mask);
        return emb.reshape(emb.dim(0), 1, emb.dim(1));
    }

    /** The UNet's one conditioning width (sdxs has the same cross_attention_dim in every block). */
    static int crossDim(UNet2DConditionModel unet) {
        int[] dims = unet.config.cross_attention_dim();
        for (int d : dims) if (d != dims[0]) throw new WeightFormatException("sdxs: the UNet's cross_attention_dim differs between blocks " + Arrays.toString(dims));
        return dims[0];
    }

    /** The card makes a 2-D embedding (B, D) one conditioning token (B, 1, D). */
    private Tensor oneToken(Tensor emb) {
        Tensor t = emb.rank() == 2 ? emb.reshape(emb.dim(0), 1, emb.dim(1)) : emb;
        if (t.rank() != 3 || t.dim(2) != crossDim(unet))
            throw new IllegalArgumentException("sdxs: conditioning must be [B, " + crossDim(unet) + "] or [B, 1, "
                    + crossDim(unet) + "], got " + Arrays.toString(emb.shape()));
        return t;
    }

    @Override
    public void close() {
        unet.close();
        vae.close();
        if (text_encoder != null) text_encoder.close();
    }
}
