package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.diffusion.schedulers.Scheduler;
import dev.tornadodiffusion.diffusion.schedulers.SchedulerConfig;
import dev.tornadodiffusion.nn.clip.ClipTextModel;
import dev.tornadodiffusion.nn.clip.ClipTokenizer;
import dev.tornadodiffusion.nn.unet.UNet2DConditionModel;
import dev.tornadodiffusion.nn.vae.AutoencoderKL;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

import java.nio.file.Path;

/**
 * diffusers' StableDiffusionPipeline (SD 1.x / 2.x) and, with an init image, StableDiffusionImg2ImgPipeline:
 * one CLIP text encoder whose last hidden state conditions the UNet; the rest is {@link UNetPipeline}'s skeleton.
 * Image-to-image renders at the requested size, else the default size.
 */
public final class StableDiffusionPipeline extends UNetPipeline {
    final ClipTokenizer tokenizer;
    final ClipTextModel text_encoder;

    StableDiffusionPipeline(Path folder, ClipTokenizer tokenizer, ClipTextModel textEncoder, UNet2DConditionModel unet,
                            AutoencoderKL vae, SchedulerConfig scheduler, Backend be) {
        super(folder, unet, vae, scheduler, be);
        this.tokenizer = tokenizer;
        this.text_encoder = textEncoder;
    }

    @Override
    public String description() {
        return "StableDiffusionPipeline " + folder.getFileName() + " (unet " + unet.config.block_out_channels().length + " levels, "
                + unet.config.in_channels() + " latent channels, scheduler " + scheduler.className() + ")";
    }

    @Override float defaultGuidance() { return 7.5f; }

    @Override int defaultSampleSize() { return 64; }

    @Override
    void checkRequest(GenerationRequest r, boolean img2img) {
        if (r.denoisingStart() != null)
            throw new IllegalArgumentException("a denoising start (the refiner hand-off) needs an SDXL pipeline; " + folder + " is " + getClass().getSimpleName());
    }

    /** encode_prompt: ids padded to the tokenizer's max length; clip skip takes an earlier layer through the final LayerNorm. */
    @Override
    Prompt encodePrompt(GenerationRequest r, boolean doCfg) {
        if (r.promptEmbeds() == null && text_encoder == null)
            throw new IllegalArgumentException(folder + " has no text encoder: pass prompt embeddings instead of a prompt");
        Tensor cond = r.promptEmbeds() != null ? r.promptEmbeds() : encodeText(r.prompt(), r.clipSkip());
        Tensor negative = null;
        if (doCfg) {
            Tensor uncond = r.negativePromptEmbeds() != null ? r.negativePromptEmbeds()
                    : encodeText(r.negativePrompt() == null ? "" : r.negativePrompt(), r.clipSkip());
            negative = Batch.repeatEach(be, uncond, r.batch());
        }
        return new Prompt(Batch.repeatEach(be, cond, r.batch()), negative, null, null);
    }

    private Tensor encodeText(String text, int clipSkip) {
        return text_encoder.promptStates(tokenizer.inputIds(text), clipSkip);
    }

    /** StableDiffusionImg2ImgPipeline.get_timesteps: the strength's share of the schedule (setting the scheduler's begin index). */
    @Override
    Tensor img2imgTimesteps(Scheduler s, int steps, GenerationRequest r) {
        return s.img2imgTimesteps(steps, r.strength());
    }

    @Override
    int[] img2imgSize(Tensor initImage) { return new int[]{defaultHeight(), defaultWidth()}; }

    @Override
    public UNetPipeline withScheduler(SchedulerConfig config) {
        return new StableDiffusionPipeline(folder, tokenizer, text_encoder, unet, vae, config, be);
    }

    @Override
    public void close() {
        unet.close();
        vae.close();
        if (text_encoder != null) text_encoder.close();
    }
}
