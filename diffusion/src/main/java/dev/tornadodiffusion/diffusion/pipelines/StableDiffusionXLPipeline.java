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
import java.util.ArrayList;
import java.util.List;

/**
 * diffusers' StableDiffusionXLPipeline and StableDiffusionXLImg2ImgPipeline (base, refiner, Turbo / Lightning):
 * two CLIP text encoders whose penultimate hidden states are concatenated, the pooled (projected) embedding of the
 * second plus the size / crop (or aesthetic score) "time ids" as the UNet's added conditioning, the denoising loop
 * with classifier-free guidance, and the VAE.
 *
 * <p>One class runs both: a request with an init image, or with {@code denoisingStart} and the latents an earlier
 * run stopped at ({@code denoisingEnd}), takes the img2img path; otherwise text-to-image (an Img2Img folder, e.g.
 * the refiner, only does img2img). The refiner has no {@code text_encoder}: only text_encoder_2 encodes the prompt.
 * {@code force_upcast} is a no-op: the VAE runs in float32. The rest is {@link UNetPipeline}'s skeleton.
 */
public final class StableDiffusionXLPipeline extends UNetPipeline {
    final String className;
    /** Null in the refiner. */
    final ClipTokenizer tokenizer;
    final ClipTextModel text_encoder;
    final ClipTokenizer tokenizer_2;
    final ClipTextModel text_encoder_2;
    final boolean force_zeros_for_empty_prompt, requires_aesthetics_score;

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
        super(folder, unet, vae, scheduler, be);
        this.className = className;
        this.tokenizer = tokenizer;
        this.text_encoder = textEncoder;
        this.tokenizer_2 = tokenizer2;
        this.text_encoder_2 = textEncoder2;
        this.force_zeros_for_empty_prompt = forceZerosForEmptyPrompt;
        this.requires_aesthetics_score = requiresAestheticsScore;
    }

    boolean img2imgOnly() { return className.equals("StableDiffusionXLImg2ImgPipeline"); }

    @Override
    public String description() {
        return className + " " + folder.getFileName() + " (unet " + unet.config.block_out_channels().length + " levels, "
                + (text_encoder == null ? "text_encoder_2 only" : "2 text encoders") + ", scheduler " + scheduler.className() + ")";
    }

    @Override float defaultGuidance() { return 5f; }

    @Override int defaultSampleSize() { return 128; }

    @Override
    void checkRequest(GenerationRequest r, boolean img2img) {
        if (img2imgOnly() && !img2img)
            throw new IllegalArgumentException(folder + " is an image-to-image pipeline (" + className + "): pass an init image, or latents with a denoising start");
    }

    @Override
    PreparedLatents.Img2ImgTimesteps img2imgTimesteps() { return PreparedLatents.Img2ImgTimesteps.STRENGTH_OR_DENOISING_START; }

    /**
     * encode_prompt: hidden_states[-(clip_skip + 2)] of each text encoder concatenated on the last axis, the pooled
     * text_embeds of text_encoder_2; the negative is zeros when there is no negative prompt and
     * force_zeros_for_empty_prompt is set, else the encoded negative prompt (always hidden_states[-2], as diffusers);
     * with the time ids of the plan's size.
     */
    @Override
    Conditioning.Prompt encodePrompt(GenerationRequest r, Plan plan) {
        boolean doCfg = plan.doCfg();
        boolean zeroNegative = r.negativePrompt() == null && force_zeros_for_empty_prompt;
        Chunked positive = r.embeddings().prompt() != null ? null : chunks(r.prompt(), r);
        Chunked negativeChunks = doCfg && r.embeddings().negativePrompt() == null && !zeroNegative
                ? chunks(r.negativePrompt() == null ? "" : r.negativePrompt(), r) : null;
        int count = Math.max(positive == null ? 0 : positive.count(), negativeChunks == null ? 0 : negativeChunks.count());
        Tensor prompt, pooled;
        if (positive == null) {
            if (r.embeddings().pooledPrompt() == null)
                throw new IllegalArgumentException("SDXL prompt embeddings need pooled prompt embeddings too");
            prompt = r.embeddings().prompt();
            pooled = r.embeddings().pooledPrompt();
        } else {
            Tensor[] e = encodeText(positive.padTo(count), -(r.clipSkip() + 2));
            prompt = e[0];
            pooled = e[1];
        }
        Tensor negative = null, negativePooled = null;
        if (doCfg) {
            if (r.embeddings().negativePrompt() != null) {
                if (r.embeddings().negativePooledPrompt() == null)
                    throw new IllegalArgumentException("SDXL negative prompt embeddings need negative pooled prompt embeddings too");
                negative = r.embeddings().negativePrompt();
                negativePooled = r.embeddings().negativePooledPrompt();
            } else if (zeroNegative) {
                negative = Tensor.zeros(prompt.shape());
                negativePooled = Tensor.zeros(pooled.shape());
            } else {
                Tensor[] e = encodeText(negativeChunks.padTo(count), -2);
                if (e[0].dim(1) != prompt.dim(1))
                    throw new IllegalArgumentException("the prompt embeddings have " + prompt.dim(1) + " tokens, the negative prompt " + e[0].dim(1) + ": pass negative prompt embeddings");
                negative = Batch.repeat(be, e[0], prompt.dim(0));
                negativePooled = Batch.repeat(be, e[1], prompt.dim(0));
            }
        }
        int k = r.batch();
        Tensor states = Batch.repeatEach(be, prompt, k);
        return new Conditioning.Prompt(states, negative == null ? null : Batch.repeatEach(be, negative, k),
                Batch.repeatEach(be, pooled, k), negativePooled == null ? null : Batch.repeatEach(be, negativePooled, k),
                addTimeIds(r, plan.height(), plan.width(), states.dim(0), doCfg, plan.img2img()));
    }

    /** A prompt chunked for each text encoder's tokenizer (null for an absent first encoder). */
    private record Chunked(PromptChunks first, PromptChunks second, ClipTokenizer tokenizer, ClipTokenizer tokenizer2) {
        int count() { return Math.max(first == null ? 0 : first.chunks().size(), second.chunks().size()); }

        Chunked padTo(int n) {
            return new Chunked(first == null ? null : first.padTo(n, tokenizer), second.padTo(n, tokenizer2), tokenizer, tokenizer2);
        }
    }

    private Chunked chunks(String text, GenerationRequest r) {
        if (text_encoder_2 == null) throw new IllegalArgumentException(folder + " has no text encoder: pass prompt embeddings instead of a prompt");
        return new Chunked(text_encoder == null ? null : PromptChunks.of(text, tokenizer, !r.literalPrompt()),
                PromptChunks.of(text, tokenizer_2, !r.literalPrompt()), tokenizer, tokenizer_2);
    }

    /**
     * [hidden states of both encoders at {@code layer}, each weighted as A1111 does and concatenated; text_encoder_2's
     * text_embeds of the first chunk].
     */
    private Tensor[] encodeText(Chunked text, int layer) {
        int layers = Math.min(text_encoder_2.config.num_hidden_layers(), text_encoder == null ? Integer.MAX_VALUE : text_encoder.config.num_hidden_layers());
        if (-layer > layers + 1) throw new IllegalArgumentException("clip skip " + (-layer - 2) + " is too large for text encoders of " + layers + " layers");
        List<Tensor> states = new ArrayList<>();
        if (text_encoder != null)
            states.add(WeightedPromptEncoder.encode(List.of(text.first()), tokenizer, ids -> new Tensor[]{text_encoder.hiddenState(ids, layer)}).hiddenStates());
        WeightedPromptEncoder.Encoded second = WeightedPromptEncoder.encode(List.of(text.second()), tokenizer_2,
                ids -> text_encoder_2.hiddenStateAndTextEmbeds(ids, layer));
        states.add(second.hiddenStates());
        return new Tensor[]{states.size() == 1 ? states.getFirst() : be.concat(2, states.toArray(Tensor[]::new)), second.pooled()};
    }

    /**
     * _get_add_time_ids: [orig_h, orig_w, crop_top, crop_left, target_h, target_w], or with
     * requires_aesthetics_score [orig_h, orig_w, crop_top, crop_left, aesthetic_score]; with CFG the negative rows
     * first. Arranged as each diffusers pipeline does: text-to-image repeats [negative, positive] over the batch,
     * img2img puts all negative rows first (and, as diffusers v0.27.2, uses the positive crop coordinates for the
     * negative size ids).
     */
    public Tensor addTimeIds(GenerationRequest r, int height, int width, int n, boolean doCfg, boolean img2img) {
        int[] size = {height, width}, zero = {0, 0};
        int[] orig = or(r.sizeConditioning().originalSize(), size), crops = or(r.sizeConditioning().cropsCoordsTopLeft(), zero), target = or(r.sizeConditioning().targetSize(), size);
        int[] negCrops = or(r.sizeConditioning().negativeCropsCoordsTopLeft(), zero);
        float[] pos, neg;
        if (!img2img) {
            pos = ids(orig, crops, target);
            neg = r.sizeConditioning().negativeOriginalSize() != null && r.sizeConditioning().negativeTargetSize() != null
                    ? ids(r.sizeConditioning().negativeOriginalSize(), negCrops, r.sizeConditioning().negativeTargetSize()) : pos;
        } else if (requires_aesthetics_score) {
            pos = ids(orig, crops, null, r.sizeConditioning().aestheticScore());
            neg = ids(or(r.sizeConditioning().negativeOriginalSize(), orig), negCrops, null, r.sizeConditioning().negativeAestheticScore());
        } else {
            pos = ids(orig, crops, target);
            neg = ids(or(r.sizeConditioning().negativeOriginalSize(), orig), crops, or(r.sizeConditioning().negativeTargetSize(), target));
        }
        Tensor p = Tensor.of(pos, 1, pos.length), q = Tensor.of(neg, 1, neg.length);
        if (!doCfg) return Batch.repeat(be, p, n);
        if (!img2img) return Batch.repeat(be, be.concat(0, q, p), n);
        return be.concat(0, Batch.repeat(be, q, n), Batch.repeat(be, p, n));
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
    public UNetPipeline withScheduler(SchedulerConfig config) {
        return sharing(new StableDiffusionXLPipeline(folder, className, tokenizer, text_encoder, tokenizer_2, text_encoder_2, unet, vae, config,
                force_zeros_for_empty_prompt, requires_aesthetics_score, be));
    }

    @Override
    public void close() {
        unet.close();
        vae.close();
        closeTinyVae();
        if (text_encoder != null) text_encoder.close();
        if (text_encoder_2 != null) text_encoder_2.close();
    }
}
