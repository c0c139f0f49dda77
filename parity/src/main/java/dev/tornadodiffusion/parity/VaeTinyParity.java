package dev.tornadodiffusion.parity;

import dev.tornadodiffusion.nn.vae.AutoencoderTiny;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Compare.Check;
import dev.tornadodiffusion.tensor.Tensor;

import java.nio.file.Path;
import java.util.List;

/**
 * Runs the {@code vae-tiny} case (AutoencoderTiny): encode and decode (square and non-square), the uint8 round
 * trip (quantized latents exact), the latent byte mapping, the pipeline conventions and the hooked layer outputs,
 * against meta.json's {@code tolerance.max_abs}.
 */
public final class VaeTinyParity {
    private VaeTinyParity() {}

    public static List<Check> run(Path caseDir, Backend backend) throws Exception {
        try (ParityCase c = ParityCase.open(caseDir); AutoencoderTiny vae = AutoencoderTiny.load(caseDir, backend, null)) {
            double tol = c.number("tolerance", "max_abs");
            Tensor image = c.input("image"), latent = c.input("latent");

            c.absolute("encode.latents", vae.encoder.forward(image, (name, t) -> debug(c, "debug/encoder." + name, t, tol)), tol);
            Tensor decoded = vae.decoder.forward(latent, (name, t) -> debug(c, "debug/decoder." + name, t, tol));
            c.absolute("decode.sample", decoded, tol);
            c.absolute("nonsquare/encode.latents", vae.encode(c.input("image_nonsquare")), tol);
            c.absolute("nonsquare/decode.sample", vae.decode(c.input("latent_nonsquare")), tol);

            AutoencoderTiny.RoundTrip trip = vae.roundTrip(image);
            c.exact("forward/quantized_latents", trip.quantizedLatents());
            c.absolute("forward/decoder_input", trip.decoderInput(), tol);
            c.absolute("forward.sample", trip.sample(), tol);
            c.absolute("scale_latents", vae.latentsToUnit(latent), tol);
            c.absolute("unscale_latents", vae.latentsFromUnit(c.input("latent_01")), tol);

            c.absolute("pipeline/encode_scaled", vae.scaleLatents(vae.encode(image)), tol);
            Tensor pipelineDecoded = vae.decode(vae.unscaleLatents(latent));
            c.absolute("pipeline/decode_of_scaled_latent", pipelineDecoded, tol);
            // VaeImageProcessor.postprocess(output_type="np"): (x / 2 + 0.5).clamp(0, 1), NHWC
            Tensor unit = backend.clamp(backend.add(backend.scale(pipelineDecoded, 0.5f), Tensor.scalar(0.5f)), 0f, 1f);
            c.absolute("pipeline/image_np", unit.permute(0, 2, 3, 1).contiguous(), tol);
            return c.checks();
        }
    }

    /** Hooked layer outputs are compared where the case recorded them (each layer's first call). */
    private static void debug(ParityCase c, String name, Tensor t, double tol) {
        if (c.outputNames().contains(name)) c.absolute(name, t, tol);
    }
}
