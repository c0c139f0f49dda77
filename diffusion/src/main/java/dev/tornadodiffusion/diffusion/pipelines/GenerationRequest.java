package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.tensor.Tensor;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * What to generate: the part every pipeline reads, plus one typed option per concern ({@link Img2Img},
 * {@link Handoff}, {@link SizeConditioning}, {@link Embeddings}). Null fields mean "the pipeline's default"
 * (diffusers' defaults: steps 50, guidance 7.5 for SD and 5.0 for SDXL, size = unet.sample_size * vae scale factor,
 * the folder's own scheduler; TLD: the folder's sampler settings). Build with {@link #builder(String)}; the CLI and
 * the HTTP server both map their arguments onto the builder.
 *
 * @param latents initial latents (unscaled, as diffusers' {@code latents=}) that replace the seeded noise; with a
 *                {@link Handoff#denoisingStart} and no init image, the partly denoised latents to continue from
 * @param literalPrompt feed the prompt to CLIP as written: no A1111 emphasis ({@code (word:1.3)}, {@code [word]}) and no
 *                BREAK (prompts use that syntax otherwise; either way a prompt longer than 75 tokens is encoded in 75-token
 *                chunks, never cut)
 * @param img2img image-to-image (with a mask: inpainting), or null for text-to-image
 */
public record GenerationRequest(
        String prompt,
        String negativePrompt,
        Integer steps,
        Float guidanceScale,
        float guidanceRescale,
        String sampler,
        long seed,
        Integer width,
        Integer height,
        int batch,
        int clipSkip,
        boolean literalPrompt,
        Tensor latents,
        Img2Img img2img,
        Handoff handoff,
        SizeConditioning sizeConditioning,
        Embeddings embeddings) {

    /**
     * Image-to-image: an [H, W, 3] image with values in [0, 1], noised to {@code strength} of the schedule
     * (in (0, 1]; 0.8 unless given, for every img2img pipeline; diffusers' SDXL img2img default is 0.3). With a
     * {@code mask} ([H, W], [H, W, 1] or [H, W, 3] in [0, 1], white (>= 0.5) where the image is repainted), inpainting:
     * an inpainting UNet (9 input channels) gets the mask as input; a normal UNet keeps the re-noised init image
     * outside it after every step.
     */
    public record Img2Img(Tensor initImage, Tensor mask, float strength) {
        public Img2Img {
            if (initImage == null) throw new IllegalArgumentException("image-to-image needs an init image");
            checkStrength(strength);
        }
    }

    /**
     * SDXL's "ensemble of expert denoisers" hand-off: the base stops once {@code denoisingEnd} of the schedule is done
     * (returning partly denoised latents), the refiner starts at {@code denoisingStart} from the init image, or from
     * the latents the base stopped with; no noise is added. Each in (0, 1) or null.
     */
    public record Handoff(Float denoisingStart, Float denoisingEnd) {
        public static final Handoff NONE = new Handoff(null, null);

        public Handoff {
            if (denoisingStart != null && !(denoisingStart > 0 && denoisingStart < 1)) throw new IllegalArgumentException("denoising start must be in (0, 1), got " + denoisingStart);
            if (denoisingEnd != null && !(denoisingEnd > 0 && denoisingEnd < 1)) throw new IllegalArgumentException("denoising end must be in (0, 1), got " + denoisingEnd);
            if (denoisingStart != null && denoisingEnd != null && denoisingStart >= denoisingEnd)
                throw new IllegalArgumentException("denoising start " + denoisingStart + " must be below denoising end " + denoisingEnd);
        }
    }

    /**
     * SDXL's micro-conditioning: {@code original_size}, {@code crops_coords_top_left}, {@code target_size} and their
     * negatives as [height, width] / [top, left] pairs in pixels (null: diffusers' default, the image size, (0, 0),
     * the image size; the negatives default to the positives), and the refiner's aesthetic scores.
     */
    public record SizeConditioning(int[] originalSize, int[] cropsCoordsTopLeft, int[] targetSize, int[] negativeOriginalSize,
                                   int[] negativeCropsCoordsTopLeft, int[] negativeTargetSize, float aestheticScore,
                                   float negativeAestheticScore) {
        public static final SizeConditioning DEFAULT = new SizeConditioning(null, null, null, null, null, null, 6.0f, 2.5f);

        public SizeConditioning {
            checkPair("original size", originalSize);
            checkPair("crop coordinates", cropsCoordsTopLeft);
            checkPair("target size", targetSize);
            checkPair("negative original size", negativeOriginalSize);
            checkPair("negative crop coordinates", negativeCropsCoordsTopLeft);
            checkPair("negative target size", negativeTargetSize);
        }

        private static void checkPair(String what, int[] pair) {
            if (pair != null && (pair.length != 2 || pair[0] < 0 || pair[1] < 0))
                throw new IllegalArgumentException(what + " must be two non-negative numbers, got " + Arrays.toString(pair));
        }
    }

    /** Precomputed text-encoder outputs in place of the prompt (SDXL also needs the pooled ones); null parts are encoded from the text. */
    public record Embeddings(Tensor prompt, Tensor negativePrompt, Tensor pooledPrompt, Tensor negativePooledPrompt) {
        public static final Embeddings NONE = new Embeddings(null, null, null, null);
    }

    public GenerationRequest {
        if (handoff == null) handoff = Handoff.NONE;
        if (sizeConditioning == null) sizeConditioning = SizeConditioning.DEFAULT;
        if (embeddings == null) embeddings = Embeddings.NONE;
        if (prompt == null && embeddings.prompt() == null && embeddings.pooledPrompt() == null) throw new IllegalArgumentException("a prompt is required");
        if (steps != null && steps < 1) throw new IllegalArgumentException("steps must be >= 1, got " + steps);
        if (batch < 1) throw new IllegalArgumentException("batch must be >= 1, got " + batch);
        if (width != null && (width < 8 || width % 8 != 0)) throw new IllegalArgumentException("width must be a positive multiple of 8, got " + width);
        if (height != null && (height < 8 || height % 8 != 0)) throw new IllegalArgumentException("height must be a positive multiple of 8, got " + height);
        if (clipSkip < 0) throw new IllegalArgumentException("clip skip must be >= 0, got " + clipSkip);
    }

    private static void checkStrength(float strength) {
        if (strength <= 0 || strength > 1) throw new IllegalArgumentException("strength must be in (0, 1], got " + strength);
    }

    /** The init image, or null for text-to-image. */
    public Tensor initImage() { return img2img == null ? null : img2img.initImage(); }

    /** The inpainting mask, or null. */
    public Tensor mask() { return img2img == null ? null : img2img.mask(); }

    /** Image-to-image: runs from an init image, or continues from a denoising start. */
    public boolean isImageToImage() { return img2img != null || handoff.denoisingStart() != null; }

    /**
     * The refiner's half of the hand-off: after this (base) request stopped at its denoising end with {@code latents},
     * the same request without init image, starting there from those latents.
     */
    public GenerationRequest refinerHandoff(Tensor latents) {
        if (handoff.denoisingEnd() == null) throw new IllegalStateException("the base request sets no denoising end to hand off at");
        return toBuilder().initImage(null).denoisingEnd(null).denoisingStart(handoff.denoisingEnd()).latents(latents).build();
    }

    public static Builder builder(String prompt) { return new Builder().prompt(prompt); }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.prompt = prompt; b.negativePrompt = negativePrompt; b.steps = steps; b.guidanceScale = guidanceScale;
        b.guidanceRescale = guidanceRescale; b.sampler = sampler; b.seed = seed; b.width = width; b.height = height;
        b.batch = batch; b.clipSkip = clipSkip; b.literalPrompt = literalPrompt; b.latents = latents;
        if (img2img != null) { b.initImage = img2img.initImage(); b.mask = img2img.mask(); b.strength = img2img.strength(); }
        b.handoff = handoff; b.size = sizeConditioning; b.embeddings = embeddings;
        return b;
    }

    /** Flat setters for every option; {@link #build} groups them into the option records. */
    public static final class Builder {
        private String prompt, negativePrompt, sampler;
        private Integer steps, width, height;
        private Float guidanceScale;
        private float guidanceRescale, strength = 0.8f;
        private long seed;
        private int batch = 1, clipSkip;
        private boolean literalPrompt;
        private Tensor initImage, mask, latents;
        private Handoff handoff = Handoff.NONE;
        private SizeConditioning size = SizeConditioning.DEFAULT;
        private Embeddings embeddings = Embeddings.NONE;

        public Builder prompt(String v) { prompt = v; return this; }
        public Builder negativePrompt(String v) { negativePrompt = v; return this; }
        public Builder steps(Integer v) { steps = v; return this; }
        public Builder guidanceScale(Float v) { guidanceScale = v; return this; }
        public Builder guidanceRescale(float v) { guidanceRescale = v; return this; }
        /** A scheduler class name (e.g. "EulerDiscreteScheduler") or short name (euler, euler-a, ddim, dpm++2m, ...). */
        public Builder sampler(String v) { sampler = v; return this; }
        public Builder seed(long v) { seed = v; return this; }
        public Builder width(Integer v) { width = v; return this; }
        public Builder height(Integer v) { height = v; return this; }
        public Builder batch(int v) { batch = v; return this; }
        public Builder clipSkip(int v) { clipSkip = v; return this; }
        /** See {@link GenerationRequest#literalPrompt}. */
        public Builder literalPrompt(boolean v) { literalPrompt = v; return this; }
        /** See {@link GenerationRequest#latents}. */
        public Builder latents(Tensor v) { latents = v; return this; }
        /** Image-to-image: an [H, W, 3] image with values in [0, 1] (null: text-to-image). */
        public Builder initImage(Tensor v) { initImage = v; return this; }
        /** Inpainting: see {@link Img2Img}; needs an init image. */
        public Builder mask(Tensor v) { mask = v; return this; }
        public Builder strength(float v) { strength = v; return this; }
        public Builder denoisingStart(Float v) { handoff = new Handoff(v, handoff.denoisingEnd()); return this; }
        public Builder denoisingEnd(Float v) { handoff = new Handoff(handoff.denoisingStart(), v); return this; }
        public Builder sizeConditioning(SizeConditioning v) { size = v; return this; }
        public Builder aestheticScore(float v) { size = withScores(v, size.negativeAestheticScore()); return this; }
        public Builder negativeAestheticScore(float v) { size = withScores(size.aestheticScore(), v); return this; }
        public Builder promptEmbeds(Tensor v) { embeddings = new Embeddings(v, embeddings.negativePrompt(), embeddings.pooledPrompt(), embeddings.negativePooledPrompt()); return this; }
        public Builder negativePromptEmbeds(Tensor v) { embeddings = new Embeddings(embeddings.prompt(), v, embeddings.pooledPrompt(), embeddings.negativePooledPrompt()); return this; }
        public Builder pooledPromptEmbeds(Tensor v) { embeddings = new Embeddings(embeddings.prompt(), embeddings.negativePrompt(), v, embeddings.negativePooledPrompt()); return this; }
        public Builder negativePooledPromptEmbeds(Tensor v) { embeddings = new Embeddings(embeddings.prompt(), embeddings.negativePrompt(), embeddings.pooledPrompt(), v); return this; }

        private SizeConditioning withScores(float positive, float negative) {
            return new SizeConditioning(size.originalSize(), size.cropsCoordsTopLeft(), size.targetSize(), size.negativeOriginalSize(),
                    size.negativeCropsCoordsTopLeft(), size.negativeTargetSize(), positive, negative);
        }

        public GenerationRequest build() {
            checkStrength(strength);
            if (mask != null && initImage == null) throw new IllegalArgumentException("an inpainting mask needs an init image");
            return new GenerationRequest(prompt, negativePrompt, steps, guidanceScale, guidanceRescale, sampler, seed, width, height,
                    batch, clipSkip, literalPrompt, latents, initImage == null ? null : new Img2Img(initImage, mask, strength), handoff, size, embeddings);
        }
    }

    /** What ran for this request, as the "parameters" text other SD tools write into the PNG (prompt, negative prompt, then key: value pairs);
     * {@code ran} is the sampler that ran, under A1111's name where it has one. */
    String parameters(int steps, float guidance, int width, int height, String ran, Path model) {
        StringBuilder sb = new StringBuilder(prompt == null ? "(prompt embeddings)" : prompt);
        if (negativePrompt() != null) sb.append("\nNegative prompt: ").append(negativePrompt());
        sb.append(String.format(Locale.ROOT, "\nSteps: %d, Sampler: %s, CFG scale: %s, Seed: %d, Size: %dx%d, Model: %s",
                steps, ran, guidance, seed(), width, height, model.getFileName()));
        if (batch() > 1) sb.append(", Batch size: ").append(batch());
        if (initImage() != null && handoff().denoisingStart() == null) sb.append(", Denoising strength: ").append(img2img().strength());
        if (handoff().denoisingStart() != null) sb.append(", Denoising start: ").append(handoff().denoisingStart());
        if (handoff().denoisingEnd() != null) sb.append(", Denoising end: ").append(handoff().denoisingEnd());
        if (guidanceRescale() > 0) sb.append(", Guidance rescale: ").append(guidanceRescale());
        if (clipSkip() > 0) sb.append(", Clip skip: ").append(clipSkip() + 1);
        sb.append(", Version: tornado-diffusion");
        return sb.toString();
    }
}
