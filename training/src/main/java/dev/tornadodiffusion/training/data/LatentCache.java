package dev.tornadodiffusion.training.data;

import dev.tornadodiffusion.nn.vae.AutoencoderKL;
import dev.tornadodiffusion.nn.vae.DiagonalGaussianDistribution;
import dev.tornadodiffusion.tensor.Tensor;

import java.io.PrintStream;

/**
 * The first {@code size} examples of a data set with the frozen VAE's posterior computed once (mean and log-variance),
 * so a denoiser's training draws a fresh latent sample per step without running the encoder again: the encoder costs
 * more than a small denoiser's forward and backward passes.
 */
public final class LatentCache implements CaptionedImages {
    private final Tensor[] posteriors;
    private final String[] captions;
    private final int resolution;
    private final CaptionedImages source;

    public LatentCache(CaptionedImages data, AutoencoderKL vae, int size, PrintStream log) {
        this.source = data;
        if (size <= 0 || size > data.size()) throw new IllegalArgumentException("latent cache size must be in 1.." + data.size() + ", got " + size);
        this.posteriors = new Tensor[size];
        this.captions = new String[size];
        this.resolution = data.resolution();
        int batch = 16;
        long t0 = System.nanoTime();
        for (int from = 0; from < size; from += batch) {
            int n = Math.min(batch, size - from);
            Example[] ex = new Example[n];
            for (int i = 0; i < n; i++) ex[i] = data.get(from + i);
            float[] stacked = new float[Math.toIntExact(n * ex[0].image().numel())];
            for (int i = 0; i < n; i++) System.arraycopy(ex[i].image().toFloatArray(), 0, stacked, Math.toIntExact(i * ex[0].image().numel()), Math.toIntExact(ex[0].image().numel()));
            int[] shape = ex[0].image().shape();
            DiagonalGaussianDistribution q = vae.encode(Tensor.of(stacked, n, shape[0], shape[1], shape[2]));
            for (int i = 0; i < n; i++) {
                posteriors[from + i] = Tensor.of(java.util.stream.Stream.of(q.mean.select(0, i), q.logvar.select(0, i))
                        .map(Tensor::toFloatArray).reduce(new float[0], LatentCache::join), 2 * q.mean.dim(1), q.mean.dim(2), q.mean.dim(3));
                captions[from + i] = ex[i].caption();
            }
        }
        if (log != null) log.printf("latent cache: %d examples encoded in %.1f s%n", size, (System.nanoTime() - t0) / 1e9);
    }

    private static float[] join(float[] a, float[] b) {
        float[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    /** The data set the cache was made from. */
    public CaptionedImages source() { return source; }

    @Override public int size() { return posteriors.length; }

    @Override public int resolution() { return resolution; }

    @Override public Example get(int index) { return new Example(null, captions[index], posteriors[index]); }
}
