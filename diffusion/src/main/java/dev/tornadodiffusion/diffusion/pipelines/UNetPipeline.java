package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.diffusion.schedulers.Scheduler;
import dev.tornadodiffusion.diffusion.schedulers.SchedulerConfig;
import dev.tornadodiffusion.nn.unet.UNet2DConditionModel;
import dev.tornadodiffusion.nn.unet.UNetConditioning;
import dev.tornadodiffusion.nn.vae.AutoencoderKL;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * The skeleton every UNet text-to-image pipeline follows (diffusers' {@code __call__}), in {@link #generate}: each
 * stage is one class, called once, in this order:
 * <ol>
 *   <li>settle the request ({@link Plan}: steps, guidance, the output size by {@link ImageSize}'s one rule), every
 *       check made before any work;</li>
 *   <li>encode the prompt ({@link Conditioning}, with the pipeline's own {@link #encodePrompt}: what differs between
 *       SD, SDXL and sdxs);</li>
 *   <li>prepare the timesteps and latents for text-to-image, image-to-image, the refiner hand-off or inpainting
 *       ({@link PreparedLatents});</li>
 *   <li>denoise ({@link Denoising#run}): per timestep one {@link GuidedPrediction} (one device call), then the
 *       scheduler step on the host ({@link SchedulerSteps}), with progress and cancellation;</li>
 *   <li>decode with the VAE (tiled above a size: {@link VaeStage}) to images, with the settings as the PNG's
 *       "parameters" text ({@link GenerationRequest#parameters}: what ran).</li>
 * </ol>
 */
public abstract class UNetPipeline implements Pipeline {
    final Path folder;
    public final UNet2DConditionModel unet;
    final AutoencoderKL vae;
    final SchedulerConfig scheduler;
    final Backend be;
    final int vaeScaleFactor;
    /** The VAE's encode and decode; with the TAESD when loaded ({@link LoadOptions#vaeTiny()}). */
    VaeStage vaeStage;

    UNetPipeline(Path folder, UNet2DConditionModel unet, AutoencoderKL vae, SchedulerConfig scheduler, Backend be) {
        this.folder = folder;
        this.unet = unet;
        this.vae = vae;
        this.scheduler = scheduler;
        this.be = be;
        this.vaeScaleFactor = vae.config.downscale();
        this.vaeStage = new VaeStage(vae, null);
    }

    // ---- what a pipeline supplies

    /** diffusers' default guidance scale (SD 7.5, SDXL 5). */
    abstract float defaultGuidance();

    /** The latent size when the UNet config has no sample_size (SD 64, SDXL 128). */
    abstract int defaultSampleSize();

    /** Checks a request against what this pipeline can do, before any work. */
    void checkRequest(GenerationRequest r, boolean img2img) {}

    /** encode_prompt: the text conditioning (or the request's precomputed embeddings), repeated to the batch. */
    abstract Conditioning.Prompt encodePrompt(GenerationRequest r, Plan plan);

    /** How an image-to-image run picks its timesteps (SD: the strength's share; SDXL: that or the refiner's denoising start). */
    abstract PreparedLatents.Img2ImgTimesteps img2imgTimesteps();

    /** The same loaded models with another scheduler; closing the original closes both. */
    public abstract UNetPipeline withScheduler(SchedulerConfig config);

    /** {@code copy} (of this pipeline's models) with this pipeline's TAESD. */
    UNetPipeline sharing(UNetPipeline copy) {
        copy.vaeStage = vaeStage;
        return copy;
    }

    /** Closes the TAESD this pipeline loaded, if any. */
    void closeTinyVae() {
        if (vaeStage.tiny != null) vaeStage.tiny.close();
    }

    // ---- the skeleton

    @Override
    public final GenerationResult generate(GenerationRequest r, Progress progress) {
        Plan plan = plan(r);
        UNetConditioning conditioning = Conditioning.encode(this, r, plan, progress);
        int rows = conditioning.encoderHiddenStates().dim(0) / (plan.doCfg() ? 2 : 1);   // images per step
        PreparedLatents start = PreparedLatents.prepare(this, r, plan, rows, progress);
        GuidedPrediction prediction = new GuidedPrediction(be, unet, conditioning, plan.guidance(), r.guidanceRescale(), plan.doCfg());
        BiConsumer<Integer, Tensor> inputs = progress.wantsModelOutput() ? (i, in) -> progress.modelInput(i + 1, in) : null;
        Tensor latents = Denoising.run(start.steps(be, prediction, inputs), start.latents, vaeStage.withPreviews(progress));
        Tensor images = vaeStage.images(latents, progress);
        return new GenerationResult(images, latents, Map.of("parameters", r.parameters(plan.steps(), plan.guidance(), plan.width(), plan.height(), start.sampler, folder)));
    }

    /**
     * The request's settings with this pipeline's defaults, checked before any work; the output size: the given
     * latents' (continuing a run), the init image's by {@link ImageSize#initImage}, else the requested or default size.
     */
    private Plan plan(GenerationRequest r) {
        int steps = r.steps() == null ? 50 : r.steps();
        float guidance = r.guidanceScale() == null ? defaultGuidance() : r.guidanceScale();
        boolean doCfg = guidance > 1 && unet.config.time_cond_proj_dim() == null;
        boolean img2img = r.isImageToImage();
        checkRequest(r, img2img);
        if (r.handoff().denoisingStart() != null && r.initImage() == null && r.latents() == null)
            throw new IllegalArgumentException("a denoising start needs an init image or the latents to continue from");
        checkInpainting(r);
        if (r.latents() != null && r.latents().rank() != 4)
            throw new IllegalArgumentException("latents must be [B, C, h, w], got " + Arrays.toString(r.latents().shape()));
        ImageSize size = r.initImage() != null ? ImageSize.initImage(r.initImage().dim(1), r.initImage().dim(0), r.width(), r.height(), vaeScaleFactor)
                : r.latents() != null ? new ImageSize(r.latents().dim(3) * vaeScaleFactor, r.latents().dim(2) * vaeScaleFactor, "the latents' size")
                : ImageSize.requested(r.width(), r.height(), defaultWidth(), defaultHeight());
        return new Plan(steps, guidance, doCfg, img2img, size);
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

    /** unet.config.sample_size (or {@link #defaultSampleSize}) * vae_scale_factor, as diffusers. */
    @Override public int defaultWidth() { return (unet.config.sample_size() == null ? defaultSampleSize() : unet.config.sample_size()) * vaeScaleFactor; }

    @Override public int defaultHeight() { return defaultWidth(); }

    /** The VAE decoder's raw output [B, 3, H, W] for denoised latents, before the [0, 1] post-processing. */
    public Tensor decodeRaw(Tensor latents) {
        return vaeStage.decodeRaw(latents);
    }

    /** The scheduler's timesteps for {@code steps} steps, as the UNet receives them. */
    public Tensor timesteps(int steps) {
        Scheduler s = Scheduler.fromConfig(scheduler);
        s.setTimesteps(steps);
        return s.timesteps();
    }
}
