package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.diffusion.NoiseSource;
import dev.tornadodiffusion.diffusion.TorchGenerator;
import dev.tornadodiffusion.diffusion.schedulers.Scheduler;
import dev.tornadodiffusion.diffusion.schedulers.SchedulerConfig;
import dev.tornadodiffusion.diffusion.schedulers.SchedulerOutput;
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
import java.util.Map;
import java.util.function.Consumer;

/**
 * AiArtLab/sdxs as its model card samples it: the prompt and the negative prompt are tokenized (XLM-R Unigram,
 * padded / truncated to 512) and embedded by mexma-siglip's text tower ({@code encode_texts}: one vector per
 * prompt, made one conditioning token), {@code torch.manual_seed(seed)} then {@code randn(B, 16, H/8, W/8)}, a
 * DDPM loop with classifier-free guidance (negative first, guidance 5.5) whose variance noise comes from the same
 * generator, and {@code vae.decode(latents / scaling_factor + shift_factor)}.
 *
 * <p>Folder: {@code unet/}, {@code vae/} (16 latent channels), {@code scheduler/} (DDPMScheduler),
 * {@code text_encoder/} (a mexma-siglip download, or a link to one) and {@code tokenizer/} (its tokenizer.json;
 * when absent, the text encoder folder's). Without the text encoder the pipeline takes conditioning embeddings.
 */
public final class SdxsPipeline implements Pipeline {
    /** The card's defaults. */
    public static final int DEFAULT_SIZE = 576;
    public static final float DEFAULT_GUIDANCE = 5.5f;
    public static final int DEFAULT_STEPS = 40;
    /** The card tokenizes with {@code padding="max_length", max_length=512, truncation=True}. */
    public static final int MAX_LENGTH = 512;

    final Path folder;
    final Tokenizer tokenizer;
    final MexmaTextEncoder text_encoder;
    final UNet2DConditionModel unet;
    final AutoencoderKL vae;
    final SchedulerConfig scheduler;
    final Backend be;

    /** One denoising step, for reference comparisons: the UNet's raw output [2B, ...], the guided prediction and the scheduler's result. */
    public record Step(int index, double timestep, Tensor unetOut, Tensor noisePred, SchedulerOutput out) {}

    private SdxsPipeline(Path folder, Tokenizer tokenizer, MexmaTextEncoder textEncoder, UNet2DConditionModel unet, AutoencoderKL vae,
                         SchedulerConfig scheduler, Backend be) {
        this.folder = folder;
        this.tokenizer = tokenizer;
        this.text_encoder = textEncoder;
        this.unet = unet;
        this.vae = vae;
        this.scheduler = scheduler;
        this.be = be;
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

    @Override public int defaultWidth() { return DEFAULT_SIZE; }

    @Override public int defaultHeight() { return DEFAULT_SIZE; }

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

    @Override
    public GenerationResult generate(GenerationRequest r, Progress progress) {
        if (r.initImage() != null || r.denoisingStart() != null || r.denoisingEnd() != null || r.clipSkip() > 0 || r.guidanceRescale() > 0
                || r.pooledPromptEmbeds() != null)
            throw new IllegalArgumentException("sdxs: only text-to-image with prompt, negative prompt, steps, guidance, sampler, seed, size, batch, latents or embeddings is supported");
        int steps = r.steps() == null ? DEFAULT_STEPS : r.steps();
        float guidance = r.guidanceScale() == null ? DEFAULT_GUIDANCE : r.guidanceScale();
        int width = r.width() == null ? DEFAULT_SIZE : r.width(), height = r.height() == null ? DEFAULT_SIZE : r.height();
        boolean doCfg = guidance > 1;

        progress.stage("text encoder");
        Tensor cond = r.promptEmbeds() != null ? oneToken(r.promptEmbeds()) : encodePrompts(List.of(r.prompt()));
        Tensor embeds = DenoiseLoop.repeatEach(be, cond, r.batch());
        if (doCfg) {
            Tensor uncond = r.negativePromptEmbeds() != null ? oneToken(r.negativePromptEmbeds())
                    : encodePrompts(List.of(r.negativePrompt() == null ? "" : r.negativePrompt()));
            embeds = be.concat(0, DenoiseLoop.repeatEach(be, uncond, r.batch()), embeds);
        }

        Scheduler s = Pipelines.scheduler(scheduler, r.sampler());
        TorchGenerator gen = new TorchGenerator(r.seed());
        int[] shape = {r.batch(), unet.config.in_channels(), height / 8, width / 8};
        Tensor latents = r.latents() != null ? r.latents() : gen.randn(shape);
        latents = sample(embeds, latents, s, steps, guidance, gen, progress, null);
        progress.stage("vae decode");
        Tensor images = DenoiseLoop.toImages(decodeRaw(latents));
        return new GenerationResult(images, latents, Map.of("parameters", Pipelines.parameters(r, steps, guidance, width, height, s.className(), folder)));
    }

    /**
     * The card's loop from given conditioning and starting latents (multiplied by init_noise_sigma, which is 1 for
     * DDPM as the card assumes): {@code embeddings} is [2B, 1, D] negative first, or [B, 1, D] when guidance <= 1.
     * The scheduler draws its noise from {@code generator} (the card's global generator).
     */
    public Tensor sample(Tensor embeddings, Tensor latents, Scheduler s, int steps, float guidance, NoiseSource generator,
                         Progress progress, Consumer<Step> trace) {
        boolean doCfg = guidance > 1;
        if (embeddings.dim(0) != latents.dim(0) * (doCfg ? 2 : 1))
            throw new IllegalArgumentException("sdxs: " + embeddings.dim(0) + " conditioning rows for a batch of " + latents.dim(0) + (doCfg ? " with guidance" : ""));
        s.setTimesteps(steps);
        Tensor timesteps = s.timesteps();
        latents = be.scale(latents, s.initNoiseSigma());
        int n = (int) timesteps.numel();
        progress.stage("denoise: " + n + " steps");
        for (int i = 0; i < n; i++) {
            long t0 = System.nanoTime();
            Tensor t = timesteps.narrow(0, i, 1);
            double tv = DenoiseLoop.exact(timesteps, i);
            Tensor in = s.scaleModelInput(doCfg ? be.concat(0, latents, latents) : latents, tv);
            Tensor out = be.run(unet, x -> unet.forward(x[0], x[1], x[2]), in, t, embeddings);
            progress.modelOutput(i + 1, out);
            Tensor noise = out;
            if (doCfg) {
                Tensor[] parts = out.chunk(2, 0);
                noise = be.add(parts[0], be.scale(be.sub(parts[1], parts[0]), guidance));
            }
            SchedulerOutput so = s.step(noise, tv, latents, generator);
            if (trace != null) trace.accept(new Step(i, tv, out, noise, so));
            latents = so.prevSample();
            progress.step(i + 1, n, (System.nanoTime() - t0) / 1e9, latents);
        }
        return latents;
    }

    /** {@code vae.decode(latents / scaling_factor + shift_factor)}: [B, 3, H, W] before the [0, 1] post-processing. */
    public Tensor decodeRaw(Tensor latents) {
        return be.run(vae, x -> vae.decode(vae.unscaleLatents(x[0])), latents);
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
