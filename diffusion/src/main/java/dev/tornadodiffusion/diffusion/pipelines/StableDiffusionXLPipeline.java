package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.diffusion.TorchGenerator;
import dev.tornadodiffusion.diffusion.schedulers.Samplers;
import dev.tornadodiffusion.diffusion.schedulers.Scheduler;
import dev.tornadodiffusion.diffusion.schedulers.SchedulerConfig;
import dev.tornadodiffusion.nn.clip.ClipTextModel;
import dev.tornadodiffusion.nn.clip.ClipTokenizer;
import dev.tornadodiffusion.nn.unet.UNet2DConditionModel;
import dev.tornadodiffusion.nn.vae.AutoencoderKL;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * diffusers' StableDiffusionXLPipeline and StableDiffusionXLImg2ImgPipeline (base, refiner, Turbo / Lightning):
 * two CLIP text encoders whose penultimate hidden states are concatenated, the pooled (projected) embedding of the
 * second plus the size / crop (or aesthetic score) "time ids" as the UNet's added conditioning, the denoising loop
 * with classifier-free guidance, and the VAE.
 *
 * <p>One class runs both: a request with an init image, or with {@code denoisingStart} and the latents an earlier
 * run stopped at ({@code denoisingEnd}), takes the img2img path; otherwise text-to-image (an Img2Img folder, e.g.
 * the refiner, only does img2img). The refiner has no {@code text_encoder}: only text_encoder_2 encodes the prompt.
 *
 * <p>VAE work on images larger than {@value #TILING_ABOVE}x{@value #TILING_ABOVE} pixels runs in
 * {@value #VAE_TILE}-pixel tiles (diffusers' {@code enable_tiling}) so a 1024x1024 decode stays within a few GiB
 * on the CPU; up to that size the result is diffusers' untiled one. {@code force_upcast} is a no-op: the VAE runs
 * in float32.
 */
public final class StableDiffusionXLPipeline implements UNetPipeline {
    static final int TILING_ABOVE = 768, VAE_TILE = 512;

    final Path folder;
    final String className;
    /** Null in the refiner. */
    final ClipTokenizer tokenizer;
    final ClipTextModel text_encoder;
    final ClipTokenizer tokenizer_2;
    final ClipTextModel text_encoder_2;
    final UNet2DConditionModel unet;
    final AutoencoderKL vae;
    final SchedulerConfig scheduler;
    final boolean force_zeros_for_empty_prompt, requires_aesthetics_score;
    final Backend be;
    final int vaeScaleFactor;

    StableDiffusionXLPipeline(Path folder, String className, ClipTokenizer tokenizer, ClipTextModel textEncoder,
                              ClipTokenizer tokenizer2, ClipTextModel textEncoder2, UNet2DConditionModel unet, AutoencoderKL vae,
                              SchedulerConfig scheduler, boolean forceZerosForEmptyPrompt, boolean requiresAestheticsScore, Backend be) {
        if (unet.config.addition_embed_type() == null)
            throw new IllegalArgumentException(folder.resolve("unet/config.json") + ": an SDXL UNet needs addition_embed_type 'text_time'");
        if ((tokenizer == null) != (textEncoder == null) || (tokenizer2 == null) != (textEncoder2 == null))
            throw new IllegalArgumentException(folder.resolve("model_index.json") + ": each text encoder needs its tokenizer");
        if (textEncoder != null && textEncoder2 == null)
            throw new IllegalArgumentException(folder.resolve("model_index.json") + ": text_encoder without text_encoder_2 (SDXL pools text_encoder_2)");
        if (textEncoder2 != null && textEncoder2.text_projection == null)
            throw new IllegalArgumentException(folder.resolve("text_encoder_2") + ": must be a CLIPTextModelWithProjection (its text_embeds are the pooled embedding)");
        if (textEncoder2 != null) {
            int width = textEncoder2.config.hidden_size() + (textEncoder == null ? 0 : textEncoder.config.hidden_size());
            for (int d : unet.config.cross_attention_dim())
                if (d != width)
                    throw new IllegalArgumentException(folder + ": the text encoders' hidden states are " + width + " wide together, the UNet's cross_attention_dim is " + d);
        }
        this.folder = folder;
        this.className = className;
        this.tokenizer = tokenizer;
        this.text_encoder = textEncoder;
        this.tokenizer_2 = tokenizer2;
        this.text_encoder_2 = textEncoder2;
        this.unet = unet;
        this.vae = vae;
        this.scheduler = scheduler;
        this.force_zeros_for_empty_prompt = forceZerosForEmptyPrompt;
        this.requires_aesthetics_score = requiresAestheticsScore;
        this.be = be;
        this.vaeScaleFactor = vae.config.downscale();
    }

    boolean img2imgOnly() { return className.equals("StableDiffusionXLImg2ImgPipeline"); }

    @Override
    public String description() {
        return className + " " + folder.getFileName() + " (unet " + unet.config.block_out_channels().length + " levels, "
                + (text_encoder == null ? "text_encoder_2 only" : "2 text encoders") + ", scheduler " + scheduler.className() + ")";
    }

    /** default_sample_size * vae_scale_factor (128 latent pixels when the config has no sample_size). */
    @Override public int defaultWidth() { return (unet.config.sample_size() == null ? 128 : unet.config.sample_size()) * vaeScaleFactor; }

    @Override public int defaultHeight() { return defaultWidth(); }

    @Override
    public GenerationResult generate(GenerationRequest r, Progress progress) {
        int steps = r.steps() == null ? 50 : r.steps();
        float guidance = r.guidanceScale() == null ? 5f : r.guidanceScale();
        boolean doCfg = guidance > 1 && unet.config.time_cond_proj_dim() == null;
        boolean img2img = r.initImage() != null || r.denoisingStart() != null;
        if (img2imgOnly() && !img2img)
            throw new IllegalArgumentException(folder + " is an image-to-image pipeline (" + className + "): pass an init image, or latents with a denoising start");
        if (r.denoisingStart() != null && r.initImage() == null && r.latents() == null)
            throw new IllegalArgumentException("a denoising start needs an init image or the latents to continue from");

        progress.stage("text encoder");
        Conditioning c = encodePrompt(r, doCfg);
        int n = c.prompt.dim(0);

        Scheduler s = Pipelines.scheduler(scheduler, r.sampler());
        s.setTimesteps(steps);
        TorchGenerator gen = new TorchGenerator(r.seed());
        Tensor timesteps, latents;
        int width, height;
        if (!img2img) {
            width = r.width() == null ? defaultWidth() : r.width();
            height = r.height() == null ? defaultHeight() : r.height();
            timesteps = s.timesteps();
            Tensor noise = r.latents() != null ? r.latents() : gen.randn(n, unet.config.in_channels(), height / vaeScaleFactor, width / vaeScaleFactor);
            latents = be.scale(noise, s.initNoiseSigma());
        } else {
            timesteps = s.img2imgTimestepsXL(steps, r.strength(), r.denoisingStart() == null ? Double.NaN : r.denoisingStart());
            if (timesteps.numel() == 0)
                throw new IllegalArgumentException("strength " + r.strength() + " with " + steps + " steps leaves no denoising step");
            latents = img2imgLatents(r, timesteps, n, s, gen, progress);
            height = latents.dim(2) * vaeScaleFactor;
            width = latents.dim(3) * vaeScaleFactor;
        }
        if (r.denoisingEnd() != null) timesteps = s.denoisingEndTimesteps(timesteps, r.denoisingEnd());

        Tensor timeIds = addTimeIds(r, height, width, n, doCfg, img2img);
        checkAddedConditioning(timeIds.dim(1), c.pooled.dim(1), img2img);
        Tensor ehs = doCfg ? be.concat(0, c.negative, c.prompt) : c.prompt;
        Tensor textEmbeds = doCfg ? be.concat(0, c.negativePooled, c.pooled) : c.pooled;
        Tensor timestepCond = unet.config.time_cond_proj_dim() == null ? null
                : DenoiseLoop.guidanceScaleEmbedding(guidance, unet.config.time_cond_proj_dim(), n);
        // be.run: a recording backend (TornadoVM) replays one device plan per step; the per-step data are its inputs
        DenoiseLoop.Model model = timestepCond == null
                ? (in, t) -> be.run(unet, x -> unet.forward(x[0], x[1], x[2], x[3], x[4]), in, t, ehs, textEmbeds, timeIds)
                : (in, t) -> be.run(unet, x -> unet.forward(x[0], x[1], x[2], x[3], x[4], x[5], null), in, t, ehs, textEmbeds, timeIds, timestepCond);
        latents = DenoiseLoop.run(be, s, timesteps, latents, model, guidance, r.guidanceRescale(), doCfg, gen, progress);

        progress.stage("vae decode");
        Tensor images = DenoiseLoop.toImages(decodeRaw(latents));
        return new GenerationResult(images, latents, Map.of("parameters", Pipelines.parameters(r, steps, guidance, width, height, Samplers.infotext(s), folder)));
    }

    /**
     * prepare_latents of the img2img pipeline: the init image encoded (or the given latents as they are when
     * continuing from {@code denoisingStart}), repeated to the batch, noised to the first timestep unless
     * {@code denoisingStart} is set.
     */
    private Tensor img2imgLatents(GenerationRequest r, Tensor timesteps, int n, Scheduler s, TorchGenerator gen, Progress progress) {
        Tensor init;
        if (r.initImage() != null) {
            Tensor img = r.initImage();
            // the image's own size (cut to a multiple of the VAE factor) unless a size is requested
            int width = r.width() != null ? r.width() : Math.max(vaeScaleFactor, img.dim(1) / vaeScaleFactor * vaeScaleFactor);
            int height = r.height() != null ? r.height() : Math.max(vaeScaleFactor, img.dim(0) / vaeScaleFactor * vaeScaleFactor);
            progress.stage("vae encode");
            Tensor image = DenoiseLoop.fromImage(img, width, height);
            Tensor noise = gen.randn(1, vae.config.latent_channels(), height / vaeScaleFactor, width / vaeScaleFactor);
            init = vae.scaleLatents(withVae(height, width, () -> vae.encode(image).sample(noise)));
        } else {
            init = r.latents();
            if (init.rank() != 4 || init.dim(1) != unet.config.in_channels())
                throw new IllegalArgumentException("latents to continue from must be [B, " + unet.config.in_channels() + ", h, w], got " + java.util.Arrays.toString(init.shape()));
        }
        if (n % init.dim(0) != 0)
            throw new IllegalArgumentException("cannot repeat " + init.dim(0) + " init latents to a batch of " + n);
        init = DenoiseLoop.repeatBatch(be, init, n / init.dim(0));
        if (r.denoisingStart() != null) return init;
        Tensor noise = r.initImage() != null && r.latents() != null ? r.latents() : gen.randn(init.shape());
        return s.addNoise(init, noise, DenoiseLoop.repeatBatch(be, timesteps.narrow(0, 0, 1), n));
    }

    /** The encoder outputs the UNet is conditioned on, each already repeated to the batch (negatives null without CFG). */
    record Conditioning(Tensor prompt, Tensor negative, Tensor pooled, Tensor negativePooled) {}

    /**
     * encode_prompt: hidden_states[-(clip_skip + 2)] of each text encoder concatenated on the last axis, the pooled
     * text_embeds of text_encoder_2; the negative is zeros when there is no negative prompt and
     * force_zeros_for_empty_prompt is set, else the encoded negative prompt (always hidden_states[-2], as diffusers).
     */
    Conditioning encodePrompt(GenerationRequest r, boolean doCfg) {
        Tensor prompt, pooled;
        if (r.promptEmbeds() != null) {
            if (r.pooledPromptEmbeds() == null)
                throw new IllegalArgumentException("SDXL prompt embeddings need pooled prompt embeddings too");
            prompt = r.promptEmbeds();
            pooled = r.pooledPromptEmbeds();
        } else {
            Tensor[] e = encodeText(r.prompt(), -(r.clipSkip() + 2));
            prompt = e[0];
            pooled = e[1];
        }
        Tensor negative = null, negativePooled = null;
        if (doCfg) {
            if (r.negativePromptEmbeds() != null) {
                if (r.negativePooledPromptEmbeds() == null)
                    throw new IllegalArgumentException("SDXL negative prompt embeddings need negative pooled prompt embeddings too");
                negative = r.negativePromptEmbeds();
                negativePooled = r.negativePooledPromptEmbeds();
            } else if (r.negativePrompt() == null && force_zeros_for_empty_prompt) {
                negative = Tensor.zeros(prompt.shape());
                negativePooled = Tensor.zeros(pooled.shape());
            } else {
                Tensor[] e = encodeText(r.negativePrompt() == null ? "" : r.negativePrompt(), -2);
                if (e[0].dim(1) != prompt.dim(1))
                    throw new IllegalArgumentException("the prompt embeddings have " + prompt.dim(1) + " tokens, the negative prompt " + e[0].dim(1) + ": pass negative prompt embeddings");
                negative = DenoiseLoop.repeatBatch(be, e[0], prompt.dim(0));
                negativePooled = DenoiseLoop.repeatBatch(be, e[1], prompt.dim(0));
            }
        }
        int k = r.batch();
        return new Conditioning(DenoiseLoop.repeatEach(be, prompt, k), negative == null ? null : DenoiseLoop.repeatEach(be, negative, k),
                DenoiseLoop.repeatEach(be, pooled, k), negativePooled == null ? null : DenoiseLoop.repeatEach(be, negativePooled, k));
    }

    /** [hidden states of both encoders at {@code layer}, concatenated; text_encoder_2's text_embeds]. */
    private Tensor[] encodeText(String text, int layer) {
        if (text_encoder_2 == null) throw new IllegalArgumentException(folder + " has no text encoder: pass prompt embeddings instead of a prompt");
        int layers = Math.min(text_encoder_2.config.num_hidden_layers(), text_encoder == null ? Integer.MAX_VALUE : text_encoder.config.num_hidden_layers());
        if (-layer > layers + 1) throw new IllegalArgumentException("clip skip " + (-layer - 2) + " is too large for text encoders of " + layers + " layers");
        List<Tensor> states = new ArrayList<>();
        if (text_encoder != null)
            states.add(be.run(text_encoder, x -> text_encoder.forward(x[0]).hiddenState(layer), DenoiseLoop.inputIds(tokenizer.tokenize(text))));
        Tensor[] out = be.runAll(text_encoder_2, x -> {
            ClipTextModel.Output o = text_encoder_2.forward(x[0]);
            return new Tensor[]{o.hiddenState(layer), o.text_embeds()};
        }, DenoiseLoop.inputIds(tokenizer_2.tokenize(text)));
        states.add(out[0]);
        return new Tensor[]{states.size() == 1 ? states.getFirst() : be.concat(2, states.toArray(Tensor[]::new)), out[1]};
    }

    /**
     * _get_add_time_ids: [orig_h, orig_w, crop_top, crop_left, target_h, target_w], or with
     * requires_aesthetics_score [orig_h, orig_w, crop_top, crop_left, aesthetic_score]; with CFG the negative rows
     * first. Arranged as each diffusers pipeline does: text-to-image repeats [negative, positive] over the batch,
     * img2img puts all negative rows first (and, as diffusers v0.27.2, uses the positive crop coordinates for the
     * negative size ids).
     */
    Tensor addTimeIds(GenerationRequest r, int height, int width, int n, boolean doCfg, boolean img2img) {
        int[] size = {height, width}, zero = {0, 0};
        int[] orig = or(r.originalSize(), size), crops = or(r.cropsCoordsTopLeft(), zero), target = or(r.targetSize(), size);
        int[] negCrops = or(r.negativeCropsCoordsTopLeft(), zero);
        float[] pos, neg;
        if (!img2img) {
            pos = ids(orig, crops, target);
            neg = r.negativeOriginalSize() != null && r.negativeTargetSize() != null
                    ? ids(r.negativeOriginalSize(), negCrops, r.negativeTargetSize()) : pos;
        } else if (requires_aesthetics_score) {
            pos = ids(orig, crops, null, r.aestheticScore());
            neg = ids(or(r.negativeOriginalSize(), orig), negCrops, null, r.negativeAestheticScore());
        } else {
            pos = ids(orig, crops, target);
            neg = ids(or(r.negativeOriginalSize(), orig), crops, or(r.negativeTargetSize(), target));
        }
        Tensor p = Tensor.of(pos, 1, pos.length), q = Tensor.of(neg, 1, neg.length);
        if (!doCfg) return DenoiseLoop.repeatBatch(be, p, n);
        if (!img2img) return DenoiseLoop.repeatBatch(be, be.concat(0, q, p), n);
        return be.concat(0, DenoiseLoop.repeatBatch(be, q, n), DenoiseLoop.repeatBatch(be, p, n));
    }

    /** The UNet's add_embedding takes addition_time_embed_dim features per time id plus the pooled embedding. */
    private void checkAddedConditioning(int timeIds, int pooledDim, boolean img2img) {
        int expected = unet.config.projection_class_embeddings_input_dim(), passed = unet.config.addition_time_embed_dim() * timeIds + pooledDim;
        if (passed != expected)
            throw new IllegalArgumentException(folder.resolve("unet/config.json") + ": the UNet expects " + expected + " added conditioning features, "
                    + timeIds + " time ids and the " + pooledDim + "-wide pooled embedding give " + passed
                    + (img2img ? " (check requires_aesthetics_score in model_index.json)" : ""));
    }

    private static int[] or(int[] v, int[] fallback) { return v != null ? v : fallback; }

    /** a ++ b ++ c (c may be null) ++ extra, as float32 time ids. */
    private static float[] ids(int[] a, int[] b, int[] c, float... extra) {
        float[] out = new float[4 + (c == null ? 0 : 2) + extra.length];
        out[0] = a[0]; out[1] = a[1]; out[2] = b[0]; out[3] = b[1];
        if (c != null) { out[4] = c[0]; out[5] = c[1]; }
        for (int i = 0; i < extra.length; i++) out[out.length - extra.length + i] = extra[i];
        return out;
    }

    @Override
    public Tensor decodeRaw(Tensor latents) {
        return withVae(latents.dim(2) * vaeScaleFactor, latents.dim(3) * vaeScaleFactor, () -> be.run(vae, x -> vae.decode(vae.unscaleLatents(x[0])), latents));
    }

    /**
     * Runs VAE work for an image of this size, tiled above {@value #TILING_ABOVE}^2 pixels. Serialised on the VAE:
     * tiling is a setting of the shared model, and one large decode at a time also bounds memory.
     */
    private <T> T withVae(int height, int width, Supplier<T> f) {
        synchronized (vae) {
            if ((long) height * width <= (long) TILING_ABOVE * TILING_ABOVE) return f.get();
            vae.enableTiling(VAE_TILE);
            try {
                return f.get();
            } finally {
                vae.disableTiling();
            }
        }
    }

    @Override
    public UNetPipeline withScheduler(SchedulerConfig config) {
        return new StableDiffusionXLPipeline(folder, className, tokenizer, text_encoder, tokenizer_2, text_encoder_2, unet, vae, config,
                force_zeros_for_empty_prompt, requires_aesthetics_score, be);
    }

    @Override
    public Tensor timesteps(int steps) {
        Scheduler s = Scheduler.fromConfig(scheduler);
        s.setTimesteps(steps);
        return s.timesteps();
    }

    @Override
    public void close() {
        unet.close();
        vae.close();
        if (text_encoder != null) text_encoder.close();
        if (text_encoder_2 != null) text_encoder_2.close();
    }
}
