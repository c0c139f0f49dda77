package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.diffusion.TorchGenerator;
import dev.tornadodiffusion.diffusion.image.ImageTensors;
import dev.tornadodiffusion.diffusion.schedulers.Samplers;
import dev.tornadodiffusion.diffusion.schedulers.Scheduler;
import dev.tornadodiffusion.diffusion.schedulers.SchedulerConfig;
import dev.tornadodiffusion.nn.unet.UNet2DConditionModel;
import dev.tornadodiffusion.nn.unet.UNetConditioning;
import dev.tornadodiffusion.nn.vae.AutoencoderKL;
import dev.tornadodiffusion.nn.vae.AutoencoderTiny;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

import java.nio.file.Path;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.Supplier;

/**
 * The skeleton every UNet text-to-image pipeline follows (diffusers' {@code __call__}), in {@link #generate}:
 * <ol>
 *   <li>encode the prompt ({@link #encodePrompt}: what differs between SD and SDXL);</li>
 *   <li>prepare the latents: seeded noise (text-to-image), or the encoded init image noised to the first timestep
 *       / the latents an earlier run stopped at (image-to-image, the refiner hand-off);</li>
 *   <li>denoise ({@link Denoising#run}): per timestep one {@link GuidedPrediction} (one device call), then the
 *       scheduler step on the host ({@link SchedulerSteps}), with progress and cancellation;</li>
 *   <li>decode with the VAE and post-process to images, with the settings as the PNG's "parameters" text.</li>
 * </ol>
 * One rule for each cross-cutting behaviour: an image-to-image request that leaves no denoising step is an error;
 * {@code denoisingEnd} stops every pipeline early; VAE work on images larger than
 * {@value #TILING_ABOVE}x{@value #TILING_ABOVE} pixels runs in {@value #VAE_TILE}-pixel tiles (diffusers'
 * {@code enable_tiling}) so a 1024x1024 decode stays within a few GiB on the CPU, up to that size the result is the
 * untiled one; the parameters text records what ran ({@link GenerationRequest#parameters}).
 */
public abstract class UNetPipeline implements Pipeline {
    public static final int TILING_ABOVE = 768, VAE_TILE = 512;

    final Path folder;
    public final UNet2DConditionModel unet;
    final AutoencoderKL vae;
    final SchedulerConfig scheduler;
    final Backend be;
    final int vaeScaleFactor;
    /** TAESD for the final decode and the previews, when loaded ({@link LoadOptions#vaeTiny()}). */
    AutoencoderTiny tinyVae;

    UNetPipeline(Path folder, UNet2DConditionModel unet, AutoencoderKL vae, SchedulerConfig scheduler, Backend be) {
        this.folder = folder;
        this.unet = unet;
        this.vae = vae;
        this.scheduler = scheduler;
        this.be = be;
        this.vaeScaleFactor = vae.config.downscale();
    }

    /** The prompt's encoder outputs, each repeated to the batch; negatives null without CFG, pooled null without SDXL's text_time. */
    record Prompt(Tensor states, Tensor negativeStates, Tensor pooled, Tensor negativePooled) {
        int rows() { return states.dim(0); }
    }

    // ---- what a pipeline supplies

    /** diffusers' default guidance scale (SD 7.5, SDXL 5). */
    abstract float defaultGuidance();

    /** The latent size when the UNet config has no sample_size (SD 64, SDXL 128). */
    abstract int defaultSampleSize();

    /** Checks a request against what this pipeline can do, before any work. */
    void checkRequest(GenerationRequest r, boolean img2img) {}

    /** encode_prompt: the text conditioning (or the request's precomputed embeddings), repeated to the batch. */
    abstract Prompt encodePrompt(GenerationRequest r, boolean doCfg);

    /** The timesteps an image-to-image run takes (the strength's share, or from the refiner's denoising start). */
    abstract Tensor img2imgTimesteps(Scheduler s, int steps, GenerationRequest r);

    /** The [height, width] an image-to-image request renders at when it names no size. */
    abstract int[] img2imgSize(Tensor initImage);

    /** SDXL's added time ids [rows, k] for the UNet (CFG: negative rows included), null for a UNet without them. */
    public Tensor addTimeIds(GenerationRequest r, int height, int width, int n, boolean doCfg, boolean img2img) { return null; }

    /** The same loaded models with another scheduler; closing the original closes both. */
    public abstract UNetPipeline withScheduler(SchedulerConfig config);

    /** {@code copy} (of this pipeline's models) with this pipeline's TAESD. */
    UNetPipeline sharing(UNetPipeline copy) {
        copy.tinyVae = tinyVae;
        return copy;
    }

    /** Closes the TAESD this pipeline loaded, if any. */
    void closeTinyVae() {
        if (tinyVae != null) tinyVae.close();
    }

    // ---- the skeleton

    @Override
    public final GenerationResult generate(GenerationRequest r, Progress progress) {
        int steps = r.steps() == null ? 50 : r.steps();
        float guidance = r.guidanceScale() == null ? defaultGuidance() : r.guidanceScale();
        boolean doCfg = guidance > 1 && unet.config.time_cond_proj_dim() == null;
        boolean img2img = r.isImageToImage();
        checkRequest(r, img2img);
        if (r.handoff().denoisingStart() != null && r.initImage() == null && r.latents() == null)
            throw new IllegalArgumentException("a denoising start needs an init image or the latents to continue from");
        checkInpainting(r);

        // 1. encode the prompt
        progress.stage("text encoder");
        Prompt prompt = encodePrompt(r, doCfg);
        int n = prompt.rows();

        // 2. prepare the latents
        Scheduler s = Pipelines.scheduler(scheduler, r.sampler());
        s.setTimesteps(steps);
        TorchGenerator gen = new TorchGenerator(r.seed());
        Tensor timesteps, latents;
        Inpainting inpainting = null;
        if (!img2img) {
            timesteps = s.timesteps();
            latents = textToImageLatents(r, n, s, gen);
        } else {
            timesteps = img2imgTimesteps(s, steps, r);
            if (timesteps.numel() == 0)
                throw new IllegalArgumentException((r.img2img() != null ? "strength " + r.img2img().strength() : "denoising start " + r.handoff().denoisingStart())
                        + " with " + steps + " steps leaves no denoising step");
            if (r.mask() == null) {
                latents = imageToImageLatents(r, timesteps, n, s, gen, progress);
            } else {
                Inpainting.Prepared prepared = inpainting(r, timesteps, n, s, gen, progress);
                inpainting = prepared.inpainting();
                latents = prepared.latents();
            }
        }
        int height = latents.dim(2) * vaeScaleFactor, width = latents.dim(3) * vaeScaleFactor;
        if (r.handoff().denoisingEnd() != null) timesteps = s.denoisingEndTimesteps(timesteps, r.handoff().denoisingEnd());

        // 3. denoise
        GuidedPrediction prediction = new GuidedPrediction(be, unet, conditioning(prompt, r, height, width, doCfg, img2img, guidance),
                guidance, r.guidanceRescale(), doCfg);
        BiConsumer<Integer, Tensor> inputs = progress.wantsModelOutput() ? (i, in) -> progress.modelInput(i + 1, in) : null;
        latents = Denoising.run(new SchedulerSteps(be, s, timesteps, prediction, gen, inpainting, inputs), latents, withPreviews(progress));

        // 4. decode
        progress.stage(tinyVae == null ? "vae decode" : "taesd decode");
        Tensor images = ImageTensors.fromDecoded(tinyVae == null ? decodeRaw(latents) : decodeTiny(latents));
        return new GenerationResult(images, latents, Map.of("parameters", r.parameters(steps, guidance, width, height, Samplers.infotext(s), folder)));
    }

    /** prepare_latents of text-to-image: the request's latents or seeded noise, times the scheduler's initial sigma. */
    private Tensor textToImageLatents(GenerationRequest r, int n, Scheduler s, TorchGenerator gen) {
        int width = r.width() == null ? defaultWidth() : r.width(), height = r.height() == null ? defaultHeight() : r.height();
        Tensor noise = r.latents() != null ? r.latents() : gen.randn(n, unet.config.in_channels(), height / vaeScaleFactor, width / vaeScaleFactor);
        return be.scale(noise, s.initNoiseSigma());
    }

    /**
     * prepare_latents of image-to-image: the init image encoded (or the given latents as they are when continuing
     * from {@code denoisingStart}), repeated to the batch, noised to the first timestep unless {@code denoisingStart}
     * is set.
     */
    private Tensor imageToImageLatents(GenerationRequest r, Tensor timesteps, int n, Scheduler s, TorchGenerator gen, Progress progress) {
        Tensor init;
        if (r.initImage() != null) {
            int[] size = img2imgSize(r.initImage());
            int height = r.height() != null ? r.height() : size[0], width = r.width() != null ? r.width() : size[1];
            progress.stage("vae encode");
            Tensor image = ImageTensors.toVaeInput(r.initImage(), width, height);
            Tensor noise = gen.randn(1, vae.config.latent_channels(), height / vaeScaleFactor, width / vaeScaleFactor);
            init = vae.scaleLatents(withVae(height, width, () -> vae.encode(image).sample(noise)));
        } else {
            init = r.latents();
            if (init.rank() != 4 || init.dim(1) != unet.config.in_channels())
                throw new IllegalArgumentException("latents to continue from must be [B, " + unet.config.in_channels() + ", h, w], got " + java.util.Arrays.toString(init.shape()));
        }
        if (n % init.dim(0) != 0)
            throw new IllegalArgumentException("cannot repeat " + init.dim(0) + " init latents to a batch of " + n);
        init = Batch.repeat(be, init, n / init.dim(0));
        if (r.handoff().denoisingStart() != null) return init;
        Tensor noise = r.initImage() != null && r.latents() != null ? r.latents() : gen.randn(init.shape());
        return s.addNoise(init, noise, Batch.repeat(be, timesteps.narrow(0, 0, 1), n));
    }

    /** An inpainting UNet (9 input channels) needs a mask; a mask needs a 9- or a 4-channel UNet. */
    private void checkInpainting(GenerationRequest r) {
        int in = unet.config.in_channels(), latent = vae.config.latent_channels();
        if (in == 2 * latent + 1 && r.mask() == null)
            throw new IllegalArgumentException(folder + " has an inpainting UNet (" + in + " input channels): pass an init image and a mask");
        if (r.mask() != null && r.handoff().denoisingStart() != null)
            throw new IllegalArgumentException("inpainting with a denoising start (a refiner hand-off) is not supported: pass the mask to the base model's run only");
        if (r.mask() != null && in != latent && in != 2 * latent + 1)
            throw new IllegalArgumentException(folder + ": cannot inpaint with a UNet of " + in + " input channels (" + latent + " or " + (2 * latent + 1) + " needed)");
    }

    /**
     * prepare_latents and prepare_mask_latents of the inpainting pipelines, in diffusers' generator order: the init
     * image's posterior sample (unless a 9-channel UNet starts from pure noise at strength 1), the initial noise, the
     * masked image's posterior sample.
     */
    private Inpainting.Prepared inpainting(GenerationRequest r, Tensor timesteps, int n, Scheduler s, TorchGenerator gen, Progress progress) {
        int[] size = img2imgSize(r.initImage());
        int height = r.height() != null ? r.height() : size[0], width = r.width() != null ? r.width() : size[1];
        int lc = vae.config.latent_channels(), h = height / vaeScaleFactor, w = width / vaeScaleFactor;
        boolean concat = unet.config.in_channels() != lc, strengthMax = r.img2img().strength() == 1f;
        progress.stage("vae encode");
        Tensor image = ImageTensors.toVaeInput(r.initImage(), width, height);
        Tensor condition = Inpainting.maskCondition(r.mask(), width, height);
        Tensor imageLatents = null;
        if (!concat || !strengthMax) {
            Tensor posterior = gen.randn(1, lc, h, w);
            imageLatents = Batch.repeat(be, vae.scaleLatents(withVae(height, width, () -> vae.encode(image).sample(posterior))), n);
        }
        Tensor noise = r.latents() != null ? r.latents() : gen.randn(n, lc, h, w);
        Tensor latents = strengthMax ? be.scale(noise, s.initNoiseSigma())
                : s.addNoise(imageLatents, noise, Batch.repeat(be, timesteps.narrow(0, 0, 1), n));
        Tensor masked = Inpainting.maskedImage(image, condition);
        Tensor posterior = gen.randn(1, lc, h, w);
        Tensor maskedLatents = vae.scaleLatents(withVae(height, width, () -> vae.encode(masked).sample(posterior)));
        Tensor mask = Batch.repeat(be, Inpainting.latentMask(condition, h, w), n);
        return new Inpainting.Prepared(new Inpainting(mask, Batch.repeat(be, maskedLatents, n), imageLatents, noise, concat), latents);
    }

    /** The UNet's conditioning for every step: the prompt states (negative rows first with CFG), SDXL's pooled embedding and time ids, LCM's guidance embedding. */
    private UNetConditioning conditioning(Prompt p, GenerationRequest r, int height, int width, boolean doCfg, boolean img2img, float guidance) {
        Tensor states = doCfg ? be.concat(0, p.negativeStates(), p.states()) : p.states();
        Tensor pooled = p.pooled() == null ? null : doCfg ? be.concat(0, p.negativePooled(), p.pooled()) : p.pooled();
        Tensor timeIds = addTimeIds(r, height, width, p.rows(), doCfg, img2img);
        if (timeIds != null) checkAddedConditioning(timeIds.dim(1), p.pooled().dim(1), img2img);
        Tensor timestepCond = unet.config.time_cond_proj_dim() == null ? null
                : UNetConditioning.guidanceScaleEmbedding(guidance, unet.config.time_cond_proj_dim(), p.rows());
        return new UNetConditioning(states, pooled, timeIds, timestepCond);
    }

    /** The UNet's add_embedding takes addition_time_embed_dim features per time id plus the pooled embedding. */
    private void checkAddedConditioning(int timeIds, int pooledDim, boolean img2img) {
        int expected = unet.config.projection_class_embeddings_input_dim(), passed = unet.config.addition_time_embed_dim() * timeIds + pooledDim;
        if (passed != expected)
            throw new IllegalArgumentException(folder.resolve("unet/config.json") + ": the UNet expects " + expected + " added conditioning features, "
                    + timeIds + " time ids and the " + pooledDim + "-wide pooled embedding give " + passed
                    + (img2img ? " (check requires_aesthetics_score in model_index.json)" : ""));
    }

    /** {@code progress} that also receives a quick decode of the latents every {@link Progress#previewEvery} steps and after the last. */
    private Progress withPreviews(Progress progress) {
        if (progress.previewEvery() <= 0) return progress;
        return new Progress() {
            @Override public void stage(String name) { progress.stage(name); }
            @Override public boolean wantsModelOutput() { return progress.wantsModelOutput(); }
            @Override public void modelInput(int step, Tensor input) { progress.modelInput(step, input); }
            @Override public void modelOutput(int step, Tensor output) { progress.modelOutput(step, output); }
            @Override public boolean cancelled() { return progress.cancelled(); }
            @Override public int previewEvery() { return progress.previewEvery(); }
            @Override public void preview(int step, Tensor images) { progress.preview(step, images); }

            @Override
            public void step(int step, int total, double secondsPerStep, Tensor latents) {
                progress.step(step, total, secondsPerStep, latents);
                if (step % progress.previewEvery() == 0 || step == total)
                    progress.preview(step, ImageTensors.fromDecoded(tinyVae == null ? decodeRaw(latents) : decodeTiny(latents)));
            }
        };
    }

    /** unet.config.sample_size (or {@link #defaultSampleSize}) * vae_scale_factor, as diffusers. */
    @Override public int defaultWidth() { return (unet.config.sample_size() == null ? defaultSampleSize() : unet.config.sample_size()) * vaeScaleFactor; }

    @Override public int defaultHeight() { return defaultWidth(); }

    /** TAESD's decode of the UNet's latents (TAESD decodes them as they are: its scaling factor is 1). */
    private Tensor decodeTiny(Tensor latents) {
        synchronized (tinyVae) {
            return tinyVae.decode(tinyVae.unscaleLatents(latents));
        }
    }

    /** The VAE decoder's raw output [B, 3, H, W] for denoised latents, before the [0, 1] post-processing. */
    public Tensor decodeRaw(Tensor latents) {
        return withVae(latents.dim(2) * vaeScaleFactor, latents.dim(3) * vaeScaleFactor, () -> vae.decodeLatents(latents));
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

    /** The scheduler's timesteps for {@code steps} steps, as the UNet receives them. */
    public Tensor timesteps(int steps) {
        Scheduler s = Scheduler.fromConfig(scheduler);
        s.setTimesteps(steps);
        return s.timesteps();
    }
}
