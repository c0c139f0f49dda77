package dev.tornadodiffusion.cli.web;

import dev.tornadodiffusion.diffusion.image.Png;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Json;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Step previews: the first image of a batch's latents [B, C, h, w] as a small PNG. {@link Decoder} is the one place a
 * better decoder plugs in (TAESD, when the model folder has one); without it the preview is the cheap linear
 * latent-to-RGB approximation (one 4x3 matrix per latent space, the factors ComfyUI and A1111 use), at latent size.
 */
public final class LatentPreview {

    /** Latents [C, h, w] of one image to an [H, W, 3] image in [0, 1]. */
    public interface Decoder {
        Tensor decode(Tensor latents);
    }

    // rows: latent channels, columns: R, G, B (ComfyUI latent_formats.py)
    private static final float[][] SD15 = {{0.3512f, 0.2297f, 0.3227f}, {0.3250f, 0.4974f, 0.2350f},
            {-0.2829f, 0.1762f, 0.2721f}, {-0.2120f, -0.2616f, -0.7177f}};
    private static final float[][] SDXL = {{0.3920f, 0.4054f, 0.4549f}, {-0.2634f, -0.0196f, 0.0653f},
            {0.0568f, 0.1687f, -0.0755f}, {-0.3112f, -0.2359f, -0.2076f}};

    private final Decoder decoder;

    public LatentPreview(Decoder decoder) { this.decoder = decoder; }

    /**
     * The preview for a model folder. The TAESD hook: once a TAESD decoder exists, return
     * {@code new LatentPreview(taesd)} here when the folder has one; until then every model gets the approximation.
     */
    public static LatentPreview forModel(Path model) {
        String cls = "";
        Path index = model.resolve("model_index.json");
        try {
            if (Files.isRegularFile(index)) cls = Json.read(index).path("_class_name").asText("");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new LatentPreview(approximation(cls.startsWith("StableDiffusionXL") ? SDXL : SD15));
    }

    /**
     * rgb = latents . factors, mapped from [-1, 1] to [0, 1], for 4-channel latents; other latent spaces show their
     * first three channels (or the first as grey), each stretched to its own range.
     */
    static Decoder approximation(float[][] factors) {
        return latents -> {
            int c = latents.dim(0), h = latents.dim(1), w = latents.dim(2), hw = h * w;
            float[] x = latents.toFloatArray(), rgb = new float[hw * 3];
            if (c == factors.length) {
                for (int p = 0; p < hw; p++)
                    for (int k = 0; k < 3; k++) {
                        float v = 0;
                        for (int ch = 0; ch < c; ch++) v += x[ch * hw + p] * factors[ch][k];
                        rgb[p * 3 + k] = (v + 1) / 2;
                    }
            } else {
                for (int k = 0; k < 3; k++) {
                    int ch = Math.min(k, c - 1);
                    float lo = Float.POSITIVE_INFINITY, hi = Float.NEGATIVE_INFINITY;
                    for (int p = 0; p < hw; p++) { lo = Math.min(lo, x[ch * hw + p]); hi = Math.max(hi, x[ch * hw + p]); }
                    float span = hi > lo ? hi - lo : 1;
                    for (int p = 0; p < hw; p++) rgb[p * 3 + k] = (x[ch * hw + p] - lo) / span;
                }
            }
            return Tensor.of(rgb, h, w, 3);
        };
    }

    /** The first image's preview as PNG bytes. */
    public byte[] png(Tensor latents) {
        try {
            return Png.encode(decoder.decode(latents.select(0, 0)), Map.of());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
