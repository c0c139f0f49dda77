package dev.tornadodiffusion.nn.vae;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.Arrays;

/**
 * diffusers' {@code DiagonalGaussianDistribution}: the encoder's moments [B, 2C, h, w] split into mean and
 * logvar (clamped to [-30, 20]), std = exp(logvar / 2).
 */
public final class DiagonalGaussianDistribution {
    public final Tensor mean, logvar, std;
    private final Backend be;

    public DiagonalGaussianDistribution(Tensor parameters, Backend be) {
        Tensor[] halves = parameters.chunk(2, 1);
        this.mean = be.contiguous(halves[0]);
        this.logvar = be.clamp(halves[1], -30f, 20f);
        this.std = be.exp(be.scale(logvar, 0.5f));
        this.be = be;
    }

    /** {@code mean + std * noise}, noise a standard normal draw shaped like the mean (torch.randn with the caller's generator). */
    public Tensor sample(Tensor noise) {
        if (!mean.sameShape(noise))
            throw new IllegalArgumentException("posterior sample: noise " + Arrays.toString(noise.shape()) + " must have the latent's shape " + Arrays.toString(mean.shape()));
        return be.add(mean, be.mul(std, noise));
    }

    /** The most likely latent: the mean. */
    public Tensor mode() { return mean; }
}
