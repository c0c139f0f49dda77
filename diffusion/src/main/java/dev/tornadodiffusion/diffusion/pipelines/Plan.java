package dev.tornadodiffusion.diffusion.pipelines;

/**
 * What a UNet pipeline settles about a request before any work: the steps, the guidance scale and whether it runs
 * classifier-free guidance, text- or image-to-image, and the output size ({@link ImageSize}'s rule).
 */
record Plan(int steps, float guidance, boolean doCfg, boolean img2img, ImageSize size) {
    int width() { return size.width(); }

    int height() { return size.height(); }
}
