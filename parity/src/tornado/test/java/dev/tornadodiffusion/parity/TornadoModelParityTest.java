package dev.tornadodiffusion.parity;

import dev.tornadodiffusion.nn.tld.Denoiser;
import dev.tornadodiffusion.nn.unet.UNet2DConditionModel;
import dev.tornadodiffusion.nn.vae.AutoencoderKL;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Compare;
import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The models on the TornadoVM backend, recorded into one plan per model and input shape and replayed with other
 * inputs, against the upstream fixtures. Runs only in the Maven profile "tornado" (bailouts fatal). Each plan
 * compiles one task per fused operation on first use: these few forward passes dominate the profile's test time.
 */
class TornadoModelParityTest {
    static Backend be;

    @BeforeAll
    static void backend() {
        be = Backends.get("tornado");
    }

    static Path fixture(String name) {
        return Path.of(System.getProperty("fixtures.dir"), name);
    }

    static void check(Compare.Check c) {
        assertTrue(c.pass(), c.toString());
    }

    /** One timestep broadcast to the batch, as the per-sample form: [t, t]. */
    static Tensor perSample(Tensor timestep, int batch) {
        float[] t = new float[batch];
        java.util.Arrays.fill(t, timestep.getFlat(0));
        return Tensor.of(t, batch);
    }

    /** Records the UNet with per-sample timesteps, then replays the same plan with the scalar timestep spread over the batch. */
    static void unet(String name, boolean sdxl) throws IOException {
        try (ParityCase c = ParityCase.open(fixture(name)); UNet2DConditionModel unet = UNet2DConditionModel.load(c.dir, be, null)) {
            double tol = c.number("tolerance", "max_abs");
            Tensor sample = c.input("sample"), ctx = c.input("encoder_hidden_states");
            Tensor text = sdxl ? c.input("text_embeds") : null, timeIds = sdxl ? c.input("time_ids") : null;
            Tensor[] timesteps = {c.input("timesteps_batch"), perSample(c.input("timestep"), sample.dim(0))};
            String[] expected = {"sample_timesteps_batch", "sample"};
            for (int call = 0; call < 2; call++) {
                Tensor out = !sdxl
                        ? be.run(unet, in -> unet.forward(in[0], in[1], in[2]), sample, timesteps[call], ctx)
                        : be.run(unet, in -> unet.forward(in[0], in[1], in[2], in[3], in[4]), sample, timesteps[call], ctx, text, timeIds);
                check(Compare.absolute(expected[call], out, c.expected(expected[call]), tol));
            }
        }
    }

    @Test
    void unetSd() throws IOException {
        unet("unet-sd", false);
    }

    @Test
    void unetSdxl() throws IOException {
        unet("unet-sdxl", true);
    }

    @Test
    void vaeDecode() throws IOException {
        try (ParityCase c = ParityCase.open(fixture("vae-sd")); AutoencoderKL vae = AutoencoderKL.load(c.dir, be, null)) {
            double tol = c.number("tolerance", "max_abs");
            Tensor latent = c.input("latent");
            check(Compare.absolute("decode.sample", be.run(vae, in -> vae.decode(in[0]), latent), c.expected("decode.sample"), tol));
            Tensor unscaled = vae.unscaleLatents(latent);    // eager
            check(Compare.absolute("pipeline/decode_of_scaled_latent", be.run(vae, in -> vae.decode(in[0]), unscaled),
                    c.expected("pipeline/decode_of_scaled_latent"), tol));
        }
    }

    @Test
    void tldForward() throws IOException {
        try (ParityCase c = ParityCase.open(fixture("tld-denoiser")); Denoiser model = Denoiser.load(c.dir, be)) {
            check(Compare.absolute("output", be.run(model, in -> model.forward(in[0], in[1], in[2]), c.input("x"), c.input("noise_level"), c.input("label")),
                    c.expected("output"), c.number("tolerance", "output")));
        }
    }
}
