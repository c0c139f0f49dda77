package dev.tornadodiffusion.parity;

import dev.tornadodiffusion.nn.vae.AutoencoderKL;
import dev.tornadodiffusion.nn.vae.DiagonalGaussianDistribution;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Compare.Check;
import dev.tornadodiffusion.tensor.Tensor;

import java.nio.file.Path;
import java.util.List;

/**
 * Runs a {@code vae-*} reference case (AutoencoderKL): posterior mean / logvar / std and a sample with the saved noise,
 * decode, the non-square variants, the pipeline scaling helpers and the hooked intermediates ({@code debug/encoder.*},
 * {@code debug/decoder.*}), all against meta.json's {@code tolerance.max_abs}.
 */
public final class VaeParity {
    private VaeParity() {}

    public static List<Check> run(Path caseDir, Backend backend) throws Exception {
        try (ParityCase c = ParityCase.open(caseDir); AutoencoderKL vae = AutoencoderKL.load(caseDir, backend, null)) {
            double tol = c.number("tolerance", "max_abs");

            DiagonalGaussianDistribution post = vae.encode(c.input("image"));
            c.absolute("latent_dist.mean", post.mean, tol);
            c.absolute("latent_dist.logvar", post.logvar, tol);
            c.absolute("latent_dist.std", post.std, tol);
            c.given("latent_dist.sample_noise");   // torch.randn's draw, the noise sample() is given
            c.absolute("latent_dist.sample", post.sample(c.expected("latent_dist.sample_noise")), tol);
            c.absolute("decode.sample", vae.decode(c.input("latent")), tol);

            DiagonalGaussianDistribution nonsquare = vae.encode(c.input("image_nonsquare"));
            c.absolute("nonsquare/latent_dist.mean", nonsquare.mean, tol);
            c.absolute("nonsquare/latent_dist.logvar", nonsquare.logvar, tol);
            c.absolute("nonsquare/decode.sample", vae.decode(c.input("latent_nonsquare")), tol);

            c.absolute("pipeline/encode_scaled", vae.scaleLatents(post.mean), tol);
            c.absolute("pipeline/decode_of_scaled_latent", vae.decode(vae.unscaleLatents(c.input("latent"))), tol);

            vae.encoder.forward(c.input("image"), (name, t) -> debug(c, "debug/encoder." + name, t, tol));
            Tensor z = c.input("latent");
            vae.decoder.forward(vae.post_quant_conv == null ? z : vae.post_quant_conv.forward(z), (name, t) -> debug(c, "debug/decoder." + name, t, tol));
            return c.checks();
        }
    }

    /** Hooked intermediates are compared when the case recorded them. */
    private static void debug(ParityCase c, String name, Tensor t, double tol) {
        if (c.outputNames().contains(name)) c.absolute(name, t, tol);
    }
}
