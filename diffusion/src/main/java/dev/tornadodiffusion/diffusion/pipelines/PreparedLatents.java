package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.diffusion.TorchGenerator;
import dev.tornadodiffusion.diffusion.image.ImageTensors;
import dev.tornadodiffusion.diffusion.schedulers.Samplers;
import dev.tornadodiffusion.diffusion.schedulers.Scheduler;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.function.BiConsumer;

/**
 * The second stage of a UNet pipeline, diffusers' {@code prepare_timesteps} and {@code prepare_latents} for every
 * kind of request: the scheduler and its timesteps (an image-to-image run keeps the strength's share, or those after
 * the refiner's denoising start; {@code denoisingEnd} stops every pipeline early), the seeded generator, and the
 * latents the denoising starts from: seeded noise (text-to-image), the encoded init image noised to the first
 * timestep or the latents an earlier run stopped at (image-to-image, the refiner hand-off), plus the mask state of
 * inpainting. An image-to-image request that leaves no denoising step is an error in every pipeline.
 */
final class PreparedLatents {
    final Scheduler scheduler;
    final Tensor timesteps;
    final TorchGenerator generator;
    final Tensor latents;
    final Inpainting inpainting;
    /** The scheduler that runs, as the parameters text names it. */
    final String sampler;

    private PreparedLatents(Scheduler scheduler, Tensor timesteps, TorchGenerator generator, Tensor latents, Inpainting inpainting, String sampler) {
        this.scheduler = scheduler;
        this.timesteps = timesteps;
        this.generator = generator;
        this.latents = latents;
        this.inpainting = inpainting;
        this.sampler = sampler;
    }

    /** How an image-to-image run picks its timesteps: diffusers' SD and SDXL img2img pipelines differ. */
    enum Img2ImgTimesteps {
        /** StableDiffusionImg2ImgPipeline.get_timesteps: the strength's share of the schedule (setting the scheduler's begin index). */
        STRENGTH,
        /** StableDiffusionXLImg2ImgPipeline.get_timesteps: the strength's share, or the timesteps after the denoising start. */
        STRENGTH_OR_DENOISING_START;

        Tensor of(Scheduler s, int steps, GenerationRequest r) {
            return switch (this) {
                case STRENGTH -> s.img2imgTimesteps(steps, r.img2img().strength());
                case STRENGTH_OR_DENOISING_START -> s.img2imgTimestepsXL(steps, r.img2img() == null ? 1 : r.img2img().strength(),
                        r.handoff().denoisingStart() == null ? Double.NaN : r.handoff().denoisingStart());
            };
        }
    }

    static PreparedLatents prepare(UNetPipeline p, GenerationRequest r, Plan plan, int rows, Progress progress) {
        Scheduler s = Samplers.create(r.sampler(), p.scheduler);
        s.setTimesteps(plan.steps());
        Tensor timesteps = plan.img2img() ? p.img2imgTimesteps().of(s, plan.steps(), r) : s.timesteps();
        if (timesteps.numel() == 0)
            throw new IllegalArgumentException((r.img2img() != null ? "strength " + r.img2img().strength() : "denoising start " + r.handoff().denoisingStart())
                    + " with " + plan.steps() + " steps leaves no denoising step");
        Tensor first = timesteps.narrow(0, 0, 1);   // the noise level of the first latents, before an early stop
        if (r.handoff().denoisingEnd() != null) timesteps = s.denoisingEndTimesteps(timesteps, r.handoff().denoisingEnd());
        TorchGenerator gen = new TorchGenerator(r.seed());
        Starts start = new Starts(p, r, plan, rows, s, first, gen, progress);
        Inpainting.Prepared prepared = !plan.img2img() ? new Inpainting.Prepared(null, start.textToImage())
                : r.mask() == null ? new Inpainting.Prepared(null, start.imageToImage()) : start.inpainting();
        return new PreparedLatents(s, timesteps, gen, prepared.latents(), prepared.inpainting(), Samplers.infotext(s));
    }

    /** The denoising steps from these latents: the guided UNet prediction, then this scheduler's step ({@code modelInputs} or null: each step's UNet input). */
    SchedulerSteps steps(Backend be, GuidedPrediction prediction, BiConsumer<Integer, Tensor> modelInputs) {
        return new SchedulerSteps(be, scheduler, timesteps, prediction, generator, inpainting, modelInputs);
    }

    /** The three ways to the first latents, in diffusers' generator order. */
    private record Starts(UNetPipeline p, GenerationRequest r, Plan plan, int n, Scheduler s, Tensor firstTimestep, TorchGenerator gen, Progress progress) {
        int h() { return plan.height() / p.vaeScaleFactor; }

        int w() { return plan.width() / p.vaeScaleFactor; }

        /** Text-to-image: the request's latents or seeded noise, times the scheduler's initial sigma. */
        Tensor textToImage() {
            Tensor noise = r.latents() != null ? r.latents() : gen.randn(n, p.unet.config.in_channels(), h(), w());
            return p.be.scale(noise, s.initNoiseSigma());
        }

        /** The init image at the plan's size as the VAE takes it. */
        Tensor vaeInput() {
            progress.stage("vae encode");
            return ImageTensors.toVaeInput(r.initImage(), plan.width(), plan.height());
        }

        /**
         * Image-to-image: the init image encoded (or the given latents as they are when continuing from
         * {@code denoisingStart}), repeated to the batch, noised to the first timestep unless {@code denoisingStart} is set.
         */
        Tensor imageToImage() {
            Tensor init;
            if (r.initImage() != null) {
                Tensor image = vaeInput();
                init = p.vaeStage.encode(image, gen.randn(1, p.vae.config.latent_channels(), h(), w()));
            } else {
                init = r.latents();
                if (init.dim(1) != p.unet.config.in_channels())
                    throw new IllegalArgumentException("latents to continue from must be [B, " + p.unet.config.in_channels() + ", h, w], got " + java.util.Arrays.toString(init.shape()));
            }
            if (n % init.dim(0) != 0)
                throw new IllegalArgumentException("cannot repeat " + init.dim(0) + " init latents to a batch of " + n);
            init = Batch.repeat(p.be, init, n / init.dim(0));
            if (r.handoff().denoisingStart() != null) return init;
            Tensor noise = r.initImage() != null && r.latents() != null ? r.latents() : gen.randn(init.shape());
            return s.addNoise(init, noise, Batch.repeat(p.be, firstTimestep, n));
        }

        /**
         * prepare_latents and prepare_mask_latents of the inpainting pipelines, in diffusers' generator order: the init
         * image's posterior sample (unless a 9-channel UNet starts from pure noise at strength 1), the initial noise,
         * the masked image's posterior sample.
         */
        Inpainting.Prepared inpainting() {
            Backend be = p.be;
            int lc = p.vae.config.latent_channels();
            boolean concat = p.unet.config.in_channels() != lc, strengthMax = r.img2img().strength() == 1f;
            Tensor image = vaeInput();
            Tensor condition = Inpainting.maskCondition(r.mask(), plan.width(), plan.height());
            Tensor imageLatents = null;
            if (!concat || !strengthMax) imageLatents = Batch.repeat(be, p.vaeStage.encode(image, gen.randn(1, lc, h(), w())), n);
            Tensor noise = r.latents() != null ? r.latents() : gen.randn(n, lc, h(), w());
            Tensor latents = strengthMax ? be.scale(noise, s.initNoiseSigma())
                    : s.addNoise(imageLatents, noise, Batch.repeat(be, firstTimestep, n));
            Tensor maskedLatents = p.vaeStage.encode(Inpainting.maskedImage(image, condition), gen.randn(1, lc, h(), w()));
            Tensor mask = Batch.repeat(be, Inpainting.latentMask(condition, h(), w()), n);
            return new Inpainting.Prepared(new Inpainting(mask, Batch.repeat(be, maskedLatents, n), imageLatents, noise, concat), latents);
        }
    }
}
