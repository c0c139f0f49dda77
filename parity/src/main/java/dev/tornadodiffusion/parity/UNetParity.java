package dev.tornadodiffusion.parity;

import dev.tornadodiffusion.nn.unet.UNet2DConditionModel;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Compare.Check;
import dev.tornadodiffusion.tensor.Tensor;

import java.nio.file.Path;
import java.util.List;

/**
 * Runs a UNet reference case ({@code unet-sd}, {@code unet-sd2}, {@code unet-sdxl}: a diffusers model folder plus
 * inputs/outputs.safetensors and meta.json). {@code sample} is the output for the scalar int64 {@code timestep},
 * {@code sample_timesteps_batch} for the per-sample float {@code timesteps_batch}; both must be within meta.json's
 * {@code tolerance.max_abs}. The {@code debug/*} intermediates of the first call get that tolerance scaled by the
 * reference's largest magnitude when it exceeds 1: float32 rounding grows with the activations, which reach ~15
 * inside these UNets (meta.json: "compare relative to their magnitude").
 */
public final class UNetParity {
    private UNetParity() {}

    public static List<Check> run(Path caseDir, Backend backend) throws Exception {
        try (ParityCase c = ParityCase.open(caseDir); UNet2DConditionModel unet = UNet2DConditionModel.load(caseDir, backend, null)) {
            double tol = c.number("tolerance", "max_abs");
            Tensor sample = c.input("sample"), context = c.input("encoder_hidden_states");
            boolean sdxl = unet.config.addition_embed_type() != null;
            Tensor textEmbeds = sdxl ? c.input("text_embeds") : null, timeIds = sdxl ? c.input("time_ids") : null;

            Tensor out = unet.forward(sample, c.input("timestep"), context, textEmbeds, timeIds, null, (name, t) -> {
                String key = "debug/" + name;
                if (c.outputNames().contains(key)) c.absolute(key, t, tol * Math.max(1, maxMagnitude(c.expected(key))));
            });
            c.absolute("sample", out, tol);
            c.absolute("sample_timesteps_batch", unet.forward(sample, c.input("timesteps_batch"), context, textEmbeds, timeIds), tol);
            return c.checks();
        }
    }

    private static double maxMagnitude(Tensor t) {
        double m = 0;
        for (float v : t.toFloatArray()) m = Math.max(m, Math.abs(v));
        return m;
    }
}
