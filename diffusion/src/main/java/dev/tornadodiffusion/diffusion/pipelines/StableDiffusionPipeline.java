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
import java.util.Map;

/**
 * diffusers' StableDiffusionPipeline (SD 1.x / 2.x) and, with an init image, StableDiffusionImg2ImgPipeline:
 * CLIP text encoder -> UNet denoising loop with classifier-free guidance -> VAE decoder.
 */
public final class StableDiffusionPipeline implements UNetPipeline {
    final Path folder;
    final ClipTokenizer tokenizer;
    final ClipTextModel text_encoder;
    final UNet2DConditionModel unet;
    final AutoencoderKL vae;
    final SchedulerConfig scheduler;
    final Backend be;
    final int vaeScaleFactor;

    StableDiffusionPipeline(Path folder, ClipTokenizer tokenizer, ClipTextModel textEncoder, UNet2DConditionModel unet,
                            AutoencoderKL vae, SchedulerConfig scheduler, Backend be) {
        this.folder = folder;
        this.tokenizer = tokenizer;
        this.text_encoder = textEncoder;
        this.unet = unet;
        this.vae = vae;
        this.scheduler = scheduler;
        this.be = be;
        this.vaeScaleFactor = vae.config.downscale();
    }

    @Override
    public String description() {
        return "StableDiffusionPipeline " + folder.getFileName() + " (unet " + unet.config.block_out_channels().length + " levels, "
                + unet.config.in_channels() + " latent channels, scheduler " + scheduler.className() + ")";
    }

    /** unet.config.sample_size * vae_scale_factor, as diffusers (64 latent pixels when the config has no sample_size). */
    @Override public int defaultWidth() { return (unet.config.sample_size() == null ? 64 : unet.config.sample_size()) * vaeScaleFactor; }

    @Override public int defaultHeight() { return defaultWidth(); }

    @Override
    public GenerationResult generate(GenerationRequest r, Progress progress) {
        int steps = r.steps() == null ? 50 : r.steps();
        float guidance = r.guidanceScale() == null ? 7.5f : r.guidanceScale();
        int width = r.width() == null ? defaultWidth() : r.width(), height = r.height() == null ? defaultHeight() : r.height();
        boolean doCfg = guidance > 1 && unet.config.time_cond_proj_dim() == null;

        progress.stage("text encoder");
        if (r.promptEmbeds() == null && text_encoder == null)
            throw new IllegalArgumentException(folder + " has no text encoder: pass prompt embeddings instead of a prompt");
        Tensor cond = r.promptEmbeds() != null ? r.promptEmbeds() : encodePrompt(r.prompt(), r.clipSkip());
        Tensor embeds = DenoiseLoop.repeatEach(be, cond, r.batch());
        if (doCfg) {
            Tensor uncond = r.negativePromptEmbeds() != null ? r.negativePromptEmbeds()
                    : encodePrompt(r.negativePrompt() == null ? "" : r.negativePrompt(), r.clipSkip());
            embeds = be.concat(0, DenoiseLoop.repeatEach(be, uncond, r.batch()), embeds);
        }

        Scheduler s = Pipelines.scheduler(scheduler, r.sampler());
        s.setTimesteps(steps);
        TorchGenerator gen = new TorchGenerator(r.seed());
        int[] shape = {r.batch(), unet.config.in_channels(), height / vaeScaleFactor, width / vaeScaleFactor};
        Tensor timesteps, latents;
        if (r.initImage() == null) {
            timesteps = s.timesteps();
            Tensor noise = r.latents() != null ? r.latents() : gen.randn(shape);
            latents = be.scale(noise, s.initNoiseSigma());
        } else {
            progress.stage("vae encode");
            timesteps = s.img2imgTimesteps(steps, r.strength());
            Tensor image = DenoiseLoop.fromImage(r.initImage(), width, height);
            Tensor init = vae.scaleLatents(vae.encode(image).sample(gen.randn(latentShape(image))));
            init = DenoiseLoop.repeatBatch(be, init, r.batch());
            Tensor noise = r.latents() != null ? r.latents() : gen.randn(shape);
            Tensor start = timesteps.numel() == 0 ? s.timesteps().narrow(0, s.numTimesteps() - 1, 1) : timesteps.narrow(0, 0, 1);
            latents = s.addNoise(init, noise, DenoiseLoop.repeatBatch(be, start, r.batch()));
        }

        Tensor ehs = embeds;
        Tensor timestepCond = unet.config.time_cond_proj_dim() == null ? null
                : DenoiseLoop.guidanceScaleEmbedding(guidance, unet.config.time_cond_proj_dim(), latents.dim(0));
        // be.run: a recording backend (TornadoVM) replays one device plan per step; the per-step data are its inputs
        DenoiseLoop.Model model = timestepCond == null
                ? (in, t) -> be.run(unet, x -> unet.forward(x[0], x[1], x[2]), in, t, ehs)
                : (in, t) -> be.run(unet, x -> unet.forward(x[0], x[1], x[2], null, null, x[3], null), in, t, ehs, timestepCond);
        latents = DenoiseLoop.run(be, s, timesteps, latents, model, guidance, r.guidanceRescale(), doCfg, gen, progress);

        progress.stage("vae decode");
        Tensor images = DenoiseLoop.toImages(decodeRaw(latents));
        return new GenerationResult(images, latents, Map.of("parameters", Pipelines.parameters(r, steps, guidance, width, height, Samplers.infotext(s), folder)));
    }

    @Override
    public Tensor decodeRaw(Tensor latents) {
        return be.run(vae, x -> vae.decode(vae.unscaleLatents(x[0])), latents);
    }

    @Override
    public UNetPipeline withScheduler(SchedulerConfig config) {
        return new StableDiffusionPipeline(folder, tokenizer, text_encoder, unet, vae, config, be);
    }

    @Override
    public Tensor timesteps(int steps) {
        Scheduler s = Scheduler.fromConfig(scheduler);
        s.setTimesteps(steps);
        return s.timesteps();
    }

    private int[] latentShape(Tensor image) {
        return new int[]{1, vae.config.latent_channels(), image.dim(2) / vaeScaleFactor, image.dim(3) / vaeScaleFactor};
    }

    /** encode_prompt: ids padded to the tokenizer's max length; clip skip takes an earlier layer through the final LayerNorm. */
    Tensor encodePrompt(String prompt, int clipSkip) {
        return be.run(text_encoder, x -> {
            ClipTextModel.Output out = text_encoder.forward(x[0]);
            return clipSkip == 0 ? out.last_hidden_state() : text_encoder.final_layer_norm.forward(out.hiddenState(-(clipSkip + 1)));
        }, DenoiseLoop.inputIds(tokenizer.tokenize(prompt)));
    }

    @Override
    public void close() {
        unet.close();
        vae.close();
        if (text_encoder != null) text_encoder.close();
    }
}
