package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.tensor.Tensor;

/**
 * What to generate. Null fields mean "the pipeline's default" (diffusers' defaults: steps 50, guidance 7.5
 * for SD and 5.0 for SDXL, size = unet.sample_size * vae scale factor, the folder's own scheduler; TLD: the
 * folder's sampler settings). {@code strength} defaults to 0.8 for every img2img pipeline (diffusers' SDXL img2img
 * default is 0.3).
 * Build with {@link #builder(String)}.
 *
 * <p>SDXL's size conditioning ({@code originalSize}, {@code cropsCoordsTopLeft}, {@code targetSize} and their
 * negatives) are [height, width] / [top, left] pairs in pixels; null means diffusers' default (the image size,
 * (0, 0), the image size; the negatives default to the positives).
 *
 * <p>Prompts use AUTOMATIC1111's emphasis syntax ({@code (word)}, {@code (word:1.3)}, {@code [word]}, {@code BREAK})
 * unless {@code literalPrompt}; a prompt longer than 75 tokens is encoded in 75-token chunks, never cut.
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
        Tensor initImage,
        Tensor mask,
        float strength,
        Float denoisingStart,
        Float denoisingEnd,
        float aestheticScore,
        float negativeAestheticScore,
        int clipSkip,
        boolean literalPrompt,
        Tensor latents,
        Tensor promptEmbeds,
        Tensor negativePromptEmbeds,
        Tensor pooledPromptEmbeds,
        Tensor negativePooledPromptEmbeds,
        int[] originalSize,
        int[] cropsCoordsTopLeft,
        int[] targetSize,
        int[] negativeOriginalSize,
        int[] negativeCropsCoordsTopLeft,
        int[] negativeTargetSize) {

    public GenerationRequest {
        if (prompt == null && promptEmbeds == null && pooledPromptEmbeds == null) throw new IllegalArgumentException("a prompt is required");
        if (steps != null && steps < 1) throw new IllegalArgumentException("steps must be >= 1, got " + steps);
        if (batch < 1) throw new IllegalArgumentException("batch must be >= 1, got " + batch);
        if (width != null && (width < 8 || width % 8 != 0)) throw new IllegalArgumentException("width must be a positive multiple of 8, got " + width);
        if (height != null && (height < 8 || height % 8 != 0)) throw new IllegalArgumentException("height must be a positive multiple of 8, got " + height);
        if (mask != null && initImage == null) throw new IllegalArgumentException("an inpainting mask needs an init image");
        if (strength <= 0 || strength > 1) throw new IllegalArgumentException("strength must be in (0, 1], got " + strength);
        if (clipSkip < 0) throw new IllegalArgumentException("clip skip must be >= 0, got " + clipSkip);
        if (denoisingStart != null && !(denoisingStart > 0 && denoisingStart < 1)) throw new IllegalArgumentException("denoising start must be in (0, 1), got " + denoisingStart);
        if (denoisingEnd != null && !(denoisingEnd > 0 && denoisingEnd < 1)) throw new IllegalArgumentException("denoising end must be in (0, 1), got " + denoisingEnd);
        if (denoisingStart != null && denoisingEnd != null && denoisingStart >= denoisingEnd)
            throw new IllegalArgumentException("denoising start " + denoisingStart + " must be below denoising end " + denoisingEnd);
        checkPair("original size", originalSize);
        checkPair("crop coordinates", cropsCoordsTopLeft);
        checkPair("target size", targetSize);
        checkPair("negative original size", negativeOriginalSize);
        checkPair("negative crop coordinates", negativeCropsCoordsTopLeft);
        checkPair("negative target size", negativeTargetSize);
    }

    private static void checkPair(String what, int[] pair) {
        if (pair != null && (pair.length != 2 || pair[0] < 0 || pair[1] < 0))
            throw new IllegalArgumentException(what + " must be two non-negative numbers, got " + java.util.Arrays.toString(pair));
    }

    public static Builder builder(String prompt) { return new Builder().prompt(prompt); }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.prompt = prompt; b.negativePrompt = negativePrompt; b.steps = steps; b.guidanceScale = guidanceScale;
        b.guidanceRescale = guidanceRescale; b.sampler = sampler; b.seed = seed; b.width = width; b.height = height;
        b.batch = batch; b.initImage = initImage; b.mask = mask; b.strength = strength; b.denoisingStart = denoisingStart;
        b.denoisingEnd = denoisingEnd; b.aestheticScore = aestheticScore; b.negativeAestheticScore = negativeAestheticScore;
        b.clipSkip = clipSkip; b.literalPrompt = literalPrompt; b.latents = latents; b.promptEmbeds = promptEmbeds; b.negativePromptEmbeds = negativePromptEmbeds;
        b.pooledPromptEmbeds = pooledPromptEmbeds; b.negativePooledPromptEmbeds = negativePooledPromptEmbeds;
        b.originalSize = originalSize; b.cropsCoordsTopLeft = cropsCoordsTopLeft; b.targetSize = targetSize;
        b.negativeOriginalSize = negativeOriginalSize; b.negativeCropsCoordsTopLeft = negativeCropsCoordsTopLeft;
        b.negativeTargetSize = negativeTargetSize;
        return b;
    }

    public static final class Builder {
        private String prompt, negativePrompt, sampler;
        private Integer steps, width, height;
        private Float guidanceScale, denoisingStart, denoisingEnd;
        private float guidanceRescale, strength = 0.8f, aestheticScore = 6.0f, negativeAestheticScore = 2.5f;
        private long seed;
        private int batch = 1, clipSkip;
        private boolean literalPrompt;
        private Tensor initImage, mask, latents, promptEmbeds, negativePromptEmbeds, pooledPromptEmbeds, negativePooledPromptEmbeds;
        private int[] originalSize, cropsCoordsTopLeft, targetSize, negativeOriginalSize, negativeCropsCoordsTopLeft, negativeTargetSize;

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
        /** Image-to-image: an [H, W, 3] image with values in [0, 1]. */
        public Builder initImage(Tensor v) { initImage = v; return this; }
        /**
         * Inpainting: an [H, W], [H, W, 1] or [H, W, 3] mask in [0, 1] over the init image, white (>= 0.5) where the
         * image is repainted. An inpainting UNet (9 input channels) gets it as input; a normal UNet keeps the
         * re-noised init image outside it after every step.
         */
        public Builder mask(Tensor v) { mask = v; return this; }
        /** How much of the schedule runs on the init image (1: all of it, from pure noise). */
        public Builder strength(float v) { strength = v; return this; }
        /**
         * SDXL: start at this fraction of the schedule (in (0, 1)) from the init image, or from {@link #latents}
         * that an earlier run stopped with {@link #denoisingEnd} (the refiner's half of "ensemble of expert
         * denoisers"); no noise is added.
         */
        public Builder denoisingStart(Float v) { denoisingStart = v; return this; }
        /** SDXL: stop once this fraction of the schedule (in (0, 1)) is done, returning partly denoised latents. */
        public Builder denoisingEnd(Float v) { denoisingEnd = v; return this; }
        public Builder aestheticScore(float v) { aestheticScore = v; return this; }
        public Builder negativeAestheticScore(float v) { negativeAestheticScore = v; return this; }
        public Builder clipSkip(int v) { clipSkip = v; return this; }
        /**
         * Feed the prompt to CLIP as written: no A1111 emphasis ({@code (word:1.3)}, {@code [word]}) and no BREAK.
         * Long prompts are still encoded whole, 75 tokens per chunk.
         */
        public Builder literalPrompt(boolean v) { literalPrompt = v; return this; }
        /**
         * Initial latents (unscaled, as diffusers' {@code latents=}); replaces the seeded noise. With
         * {@link #denoisingStart} and no init image: the partly denoised latents to continue from.
         */
        public Builder latents(Tensor v) { latents = v; return this; }
        public Builder promptEmbeds(Tensor v) { promptEmbeds = v; return this; }
        public Builder negativePromptEmbeds(Tensor v) { negativePromptEmbeds = v; return this; }
        public Builder pooledPromptEmbeds(Tensor v) { pooledPromptEmbeds = v; return this; }
        public Builder negativePooledPromptEmbeds(Tensor v) { negativePooledPromptEmbeds = v; return this; }
        /** SDXL original_size as [height, width]. */
        public Builder originalSize(int[] v) { originalSize = v; return this; }
        /** SDXL crops_coords_top_left as [top, left]. */
        public Builder cropsCoordsTopLeft(int[] v) { cropsCoordsTopLeft = v; return this; }
        /** SDXL target_size as [height, width]. */
        public Builder targetSize(int[] v) { targetSize = v; return this; }
        public Builder negativeOriginalSize(int[] v) { negativeOriginalSize = v; return this; }
        public Builder negativeCropsCoordsTopLeft(int[] v) { negativeCropsCoordsTopLeft = v; return this; }
        public Builder negativeTargetSize(int[] v) { negativeTargetSize = v; return this; }

        public GenerationRequest build() {
            return new GenerationRequest(prompt, negativePrompt, steps, guidanceScale, guidanceRescale, sampler, seed, width, height,
                    batch, initImage, mask, strength, denoisingStart, denoisingEnd, aestheticScore, negativeAestheticScore, clipSkip,
                    literalPrompt, latents, promptEmbeds, negativePromptEmbeds, pooledPromptEmbeds, negativePooledPromptEmbeds,
                    originalSize, cropsCoordsTopLeft, targetSize, negativeOriginalSize, negativeCropsCoordsTopLeft, negativeTargetSize);
        }
    }
}
