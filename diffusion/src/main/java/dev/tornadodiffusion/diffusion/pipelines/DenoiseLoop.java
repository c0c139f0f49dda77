package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.diffusion.NoiseSource;
import dev.tornadodiffusion.diffusion.schedulers.Scheduler;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * The denoising loop every UNet pipeline shares (diffusers' {@code __call__} body): duplicate the latents for
 * classifier-free guidance, scale the model input, predict noise, guide, optionally rescale, step the scheduler.
 */
final class DenoiseLoop {
    /** The denoiser for one step: model input and the timestep as the scheduler holds it ([1] tensor). */
    interface Model {
        Tensor predict(Tensor latentModelInput, Tensor timestep);
    }

    private DenoiseLoop() {}

    static Tensor run(Backend be, Scheduler scheduler, Tensor timesteps, Tensor latents, Model model, float guidanceScale,
                      float guidanceRescale, boolean doCfg, NoiseSource generator, Progress progress) {
        int n = (int) timesteps.numel();
        progress.stage("denoise: " + n + " steps");
        for (int i = 0; i < n; i++) {
            long t0 = System.nanoTime();
            Tensor t = timesteps.narrow(0, i, 1);
            double tv = exact(timesteps, i);
            Tensor in = doCfg ? be.concat(0, latents, latents) : latents;
            in = scheduler.scaleModelInput(in, tv);
            Tensor noise = model.predict(in, t);
            progress.modelOutput(i + 1, noise);
            if (doCfg) {
                Tensor[] parts = noise.chunk(2, 0);
                Tensor uncond = parts[0], text = parts[1];
                noise = be.add(uncond, be.scale(be.sub(text, uncond), guidanceScale));
                if (guidanceRescale > 0) noise = rescaleNoiseCfg(be, noise, text, guidanceRescale);
            }
            latents = scheduler.step(noise, tv, latents, generator).prevSample();
            progress.step(i + 1, n, (System.nanoTime() - t0) / 1e9, latents);
        }
        return latents;
    }

    /**
     * {@code rescale_noise_cfg} (Lin et al., "Common Diffusion Noise Schedules and Sample Steps are Flawed", 3.4):
     * rescale the guided prediction to the per-sample standard deviation of the text prediction.
     */
    static Tensor rescaleNoiseCfg(Backend be, Tensor cfg, Tensor text, float guidanceRescale) {
        int b = cfg.dim(0);
        float[] factor = new float[b];
        for (int i = 0; i < b; i++) factor[i] = (float) (std(text.select(0, i)) / std(cfg.select(0, i)));
        int[] shape = new int[cfg.rank()];
        java.util.Arrays.fill(shape, 1);
        shape[0] = b;
        Tensor rescaled = be.mul(cfg, Tensor.of(factor, shape));
        return be.add(be.scale(rescaled, guidanceRescale), be.scale(cfg, 1 - guidanceRescale));
    }

    /** torch.std (unbiased) over all elements. */
    private static double std(Tensor x) {
        long n = x.numel();
        double sum = 0, sq = 0;
        for (long i = 0; i < n; i++) sum += x.getFlat(i);
        double mean = sum / n;
        for (long i = 0; i < n; i++) { double d = x.getFlat(i) - mean; sq += d * d; }
        return Math.sqrt(sq / (n - 1));
    }

    /** torch's {@code x.repeat(n, 1, ...)}: the whole batch {@code n} times over. */
    static Tensor repeatBatch(Backend be, Tensor x, int n) {
        if (n == 1) return x;
        Tensor[] copies = new Tensor[n];
        java.util.Arrays.fill(copies, x);
        return be.concat(0, copies);
    }

    /**
     * {@code x.repeat(1, n, ...).view(b * n, ...)} as the pipelines repeat embeddings per prompt: each batch row
     * {@code n} times in a row (the same as {@link #repeatBatch} for one row).
     */
    static Tensor repeatEach(Backend be, Tensor x, int n) {
        if (n == 1 || x.dim(0) == 1) return repeatBatch(be, x, n);
        Tensor[] rows = new Tensor[x.dim(0) * n];
        for (int i = 0; i < rows.length; i++) rows[i] = x.narrow(0, i / n, 1);
        return be.concat(0, rows);
    }

    /** Token ids as the [1, N] int64 input_ids a text encoder takes. */
    static Tensor inputIds(int[] ids) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) l[i] = ids[i];
        return Tensor.ofLongs(l, 1, ids.length);
    }

    /**
     * {@code get_guidance_scale_embedding} for UNets with time_cond_proj_dim (LCM-distilled): w = (guidance - 1) * 1000,
     * [sin(w f), cos(w f)] with f = exp(-i log(10000) / (dim/2 - 1)) in float32, one row per batch element.
     */
    static Tensor guidanceScaleEmbedding(float guidanceScale, int dim, int batch) {
        int half = dim / 2;
        float w = (guidanceScale - 1) * 1000f;
        float step = (float) Math.log(10000.0) / (half - 1);
        float[] row = new float[dim];
        for (int i = 0; i < half; i++) {
            float e = w * (float) Math.exp(i * -step);
            row[i] = (float) Math.sin(e);
            row[half + i] = (float) Math.cos(e);
        }
        float[] out = new float[batch * dim];
        for (int b = 0; b < batch; b++) System.arraycopy(row, 0, out, b * dim, dim);
        return Tensor.of(out, batch, dim);
    }

    static double exact(Tensor timesteps, int i) {
        return timesteps.dtype().floating ? timesteps.getFlat(i) : timesteps.getLongFlat(i);
    }

    /** diffusers' image post-processing for output_type "np": (x / 2 + 0.5).clamp(0, 1), NCHW -> NHWC. */
    static Tensor toImages(Tensor decoded) {
        int b = decoded.dim(0), c = decoded.dim(1), h = decoded.dim(2), w = decoded.dim(3);
        float[] src = decoded.contiguousF32().array();
        float[] out = new float[b * h * w * c];
        for (int n = 0; n < b; n++)
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++) {
                        float v = src[((n * c + ch) * h + y) * w + x] / 2 + 0.5f;
                        out[((n * h + y) * w + x) * c + ch] = Math.min(1f, Math.max(0f, v));
                    }
        return Tensor.of(out, b, h, w, c);
    }

    /** An [H, W, 3] image in [0, 1] as a [1, 3, height, width] tensor in [-1, 1], resized (bilinear) if needed. */
    static Tensor fromImage(Tensor image, int width, int height) {
        int h = image.dim(0), w = image.dim(1);
        float[] src = image.contiguousF32().array();
        float[] out = new float[3 * height * width];
        for (int y = 0; y < height; y++) {
            float sy = Math.max(0, (y + 0.5f) * h / height - 0.5f);
            int y0 = Math.min((int) sy, h - 1), y1 = Math.min(y0 + 1, h - 1);
            float fy = sy - y0;
            for (int x = 0; x < width; x++) {
                float sx = Math.max(0, (x + 0.5f) * w / width - 0.5f);
                int x0 = Math.min((int) sx, w - 1), x1 = Math.min(x0 + 1, w - 1);
                float fx = sx - x0;
                for (int ch = 0; ch < 3; ch++) {
                    float top = src[(y0 * w + x0) * 3 + ch] * (1 - fx) + src[(y0 * w + x1) * 3 + ch] * fx;
                    float bot = src[(y1 * w + x0) * 3 + ch] * (1 - fx) + src[(y1 * w + x1) * 3 + ch] * fx;
                    out[(ch * height + y) * width + x] = 2 * (top * (1 - fy) + bot * fy) - 1;
                }
            }
        }
        return Tensor.of(out, 1, 3, height, width);
    }
}
