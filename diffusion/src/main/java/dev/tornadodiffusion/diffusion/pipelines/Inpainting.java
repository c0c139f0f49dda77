package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.diffusion.schedulers.Scheduler;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * What inpainting adds to image-to-image, as diffusers' {@code StableDiffusion(XL)InpaintPipeline} does it. The
 * mask is white (>= 0.5) where the image is repainted. An inpainting UNet (9 input channels) gets, besides the
 * latents, the mask at latent size and the latents of the image with the repaint region blanked; a normal UNet
 * (4 channels) denoises as in image-to-image, and after every step the region outside the mask is replaced by the
 * init image's latents noised to the next timestep (with the same initial noise), after the last step by the
 * init latents themselves.
 *
 * @param mask               the mask at latent size [n, 1, h, w]
 * @param maskedImageLatents the masked image's latents [n, 4, h, w] (what a 9-channel UNet gets)
 * @param imageLatents       the init image's latents [n, 4, h, w] (null for a 9-channel UNet at full strength)
 * @param noise              the initial noise (re-used by the 4-channel blend)
 * @param concat             true for a 9-channel UNet, false for the blend
 */
record Inpainting(Tensor mask, Tensor maskedImageLatents, Tensor imageLatents, Tensor noise, boolean concat) {

    /** The inpainting state and the latents the denoising starts from. */
    record Prepared(Inpainting inpainting, Tensor latents) {}

    /** The UNet input: the scaled latents, with a 9-channel UNet followed by the mask and the masked-image latents. */
    Tensor modelInput(Backend be, Tensor scaledLatents) {
        return concat ? be.concat(1, scaledLatents, mask, maskedImageLatents) : scaledLatents;
    }

    /**
     * After step {@code i} of {@code timesteps}: with a 4-channel UNet, {@code (1 - m) * init + m * latents} where init
     * is the init latents noised to the next timestep (themselves after the last step).
     */
    Tensor afterStep(Backend be, Scheduler s, Tensor latents, Tensor timesteps, int i) {
        if (concat) return latents;
        Tensor init = imageLatents;
        if (i < timesteps.numel() - 1) init = s.addNoise(imageLatents, noise, timesteps.narrow(0, i + 1, 1));
        Tensor keep = be.sub(Tensor.scalar(1f), mask);
        return be.add(be.mul(keep, init), be.mul(mask, latents));
    }

    /**
     * {@code mask_processor.preprocess}: an [H, W], [H, W, 1] or [H, W, 3] mask in [0, 1] (RGB taken to grey as PIL's
     * "L" conversion does), resized to {@code width x height} if needed, binarized: [1, 1, height, width] of 0 / 1.
     */
    static Tensor maskCondition(Tensor mask, int width, int height) {
        if (mask.rank() != 2 && (mask.rank() != 3 || (mask.dim(2) != 1 && mask.dim(2) != 3)))
            throw new IllegalArgumentException("the inpainting mask must be [H, W], [H, W, 1] or [H, W, 3], got " + java.util.Arrays.toString(mask.shape()));
        int h = mask.dim(0), w = mask.dim(1), c = mask.rank() == 2 ? 1 : mask.dim(2);
        float[] src = mask.contiguousF32().array();
        float[] grey = new float[h * w];
        for (int i = 0; i < h * w; i++) {
            if (c == 1) {
                grey[i] = src[i];
            } else {
                // PIL "L": (R * 19595 + G * 38470 + B * 7471 + 0x8000) >> 16 on 8-bit values
                long r = Math.round(src[3 * i] * 255.0), g = Math.round(src[3 * i + 1] * 255.0), b = Math.round(src[3 * i + 2] * 255.0);
                grey[i] = ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) / 255f;
            }
        }
        float[] out = new float[height * width];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) {
                // nearest when resizing: a binary mask stays binary
                int sy = Math.min(h - 1, (int) ((long) y * h / height)), sx = Math.min(w - 1, (int) ((long) x * w / width));
                out[y * width + x] = grey[sy * w + sx] >= 0.5f ? 1f : 0f;
            }
        return Tensor.of(out, 1, 1, height, width);
    }

    /** {@code init_image * (mask_condition < 0.5)}: the image with the repaint region set to 0 (grey). */
    static Tensor maskedImage(Tensor vaeInput, Tensor maskCondition) {
        int c = vaeInput.dim(1), hw = vaeInput.dim(2) * vaeInput.dim(3);
        float[] x = vaeInput.contiguousF32().array(), m = maskCondition.contiguousF32().array();
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) out[i] = x[i] * (m[i % hw] < 0.5f ? 1f : 0f);
        return Tensor.of(out, 1, c, vaeInput.dim(2), vaeInput.dim(3));
    }

    /** {@code F.interpolate(mask, size=(h, w))}, mode "nearest": pixel (i, j) takes source (floor(i H / h), floor(j W / w)). */
    static Tensor latentMask(Tensor maskCondition, int h, int w) {
        int sh = maskCondition.dim(2), sw = maskCondition.dim(3);
        float[] m = maskCondition.contiguousF32().array();
        float[] out = new float[h * w];
        float scaleH = (float) sh / h, scaleW = (float) sw / w;
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++)
                out[i * w + j] = m[Math.min((int) Math.floor(i * scaleH), sh - 1) * sw + Math.min((int) Math.floor(j * scaleW), sw - 1)];
        return Tensor.of(out, 1, 1, h, w);
    }
}
