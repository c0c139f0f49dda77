package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.diffusion.prompts.PromptChunks;
import dev.tornadodiffusion.diffusion.prompts.WeightedPromptEncoder;
import dev.tornadodiffusion.diffusion.schedulers.SchedulerConfig;
import dev.tornadodiffusion.nn.clip.ClipTextModel;
import dev.tornadodiffusion.nn.clip.ClipTokenizer;
import dev.tornadodiffusion.nn.unet.UNet2DConditionModel;
import dev.tornadodiffusion.nn.vae.AutoencoderKL;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

import java.nio.file.Path;
import java.util.List;

/**
 * diffusers' StableDiffusionPipeline (SD 1.x / 2.x) and, with an init image, StableDiffusionImg2ImgPipeline:
 * one CLIP text encoder whose last hidden state conditions the UNet; the rest is {@link UNetPipeline}'s skeleton.
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
        if (r.handoff().denoisingStart() != null)
            throw new IllegalArgumentException("a denoising start (the refiner hand-off) needs an SDXL pipeline; " + folder + " is " + getClass().getSimpleName());
    }

    /**
     * The prompt as AUTOMATIC1111 encodes it (emphasis, 75-token chunks, see {@link WeightedPromptEncoder}); clip skip
     * takes an earlier layer through the final LayerNorm. A prompt and a negative prompt of different lengths are
     * padded with empty chunks to the longer one.
     */
    @Override
    Conditioning.Prompt encodePrompt(GenerationRequest r, Plan plan) {
        boolean doCfg = plan.doCfg();
        if ((r.embeddings().prompt() == null || (doCfg && r.embeddings().negativePrompt() == null)) && text_encoder == null)
            throw new IllegalArgumentException(folder + " has no text encoder: pass prompt embeddings instead of a prompt");
        boolean negativeText = doCfg && r.embeddings().negativePrompt() == null;
        PromptChunks positive = r.embeddings().prompt() != null ? null : PromptChunks.of(r.prompt(), tokenizer, !r.literalPrompt());
        PromptChunks negativeChunks = negativeText
                ? PromptChunks.of(r.negativePrompt() == null ? "" : r.negativePrompt(), tokenizer, !r.literalPrompt()) : null;
        if (positive != null && negativeChunks != null) {
            int count = Math.max(positive.chunks().size(), negativeChunks.chunks().size());
            positive = positive.padTo(count, tokenizer);
            negativeChunks = negativeChunks.padTo(count, tokenizer);
        }
        Tensor cond = positive == null ? r.embeddings().prompt() : encodeText(positive, r.clipSkip());
        Tensor negative = null;
        if (doCfg) {
            Tensor uncond = negativeChunks == null ? r.embeddings().negativePrompt() : encodeText(negativeChunks, r.clipSkip());
            if (uncond.dim(1) != cond.dim(1))
                throw new IllegalArgumentException("the prompt embeddings have " + cond.dim(1) + " tokens, the negative prompt " + uncond.dim(1) + ": pass negative prompt embeddings");
            negative = Batch.repeatEach(be, uncond, r.batch());
        }
        return new Conditioning.Prompt(Batch.repeatEach(be, cond, r.batch()), negative);
    }

    private Tensor encodeText(PromptChunks chunks, int clipSkip) {
        return WeightedPromptEncoder.encode(List.of(chunks), tokenizer, ids -> new Tensor[]{text_encoder.promptStates(ids, clipSkip)}).hiddenStates();
    }

    @Override
    PreparedLatents.Img2ImgTimesteps img2imgTimesteps() { return PreparedLatents.Img2ImgTimesteps.STRENGTH; }

    @Override
    public UNetPipeline withScheduler(SchedulerConfig config) {
        return sharing(new StableDiffusionPipeline(folder, tokenizer, text_encoder, unet, vae, config, be));
    }

    @Override
    public void close() {
        unet.close();
        vae.close();
        closeTinyVae();
        if (text_encoder != null) text_encoder.close();
    }
}
