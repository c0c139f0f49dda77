package dev.tornadodiffusion.parity;

import dev.tornadodiffusion.diffusion.pipelines.Denoising;
import dev.tornadodiffusion.diffusion.pipelines.Progress;
import dev.tornadodiffusion.diffusion.schedulers.TldSampler;
import dev.tornadodiffusion.nn.tld.Denoiser;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Compare.Check;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.WeightFormatException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs the {@code tld-denoiser} reference case: one Denoiser forward ({@code output}, meta.json
 * {@code tolerance.output}) and every {@code sampler/<run>/} generation (x_t and raw model output of each call,
 * noise levels, final x0) with the generate() arguments meta.json records, at its relative sampler tolerance.
 */
public final class TldParity {
    private TldParity() {}

    public static List<Check> run(Path caseDir, Backend backend) throws Exception {
        try (ParityCase c = ParityCase.open(caseDir); Denoiser model = Denoiser.load(caseDir, backend)) {
            return run(c, model, backend);
        }
    }

    /** The checks of case {@code c} (tld-denoiser or a case with the same inputs and outputs) for {@code model}, however it was loaded. */
    public static List<Check> run(ParityCase c, Denoiser model, Backend backend) {
        c.absolute("output", model.forward(c.input("x"), c.input("noise_level"), c.input("label")), c.number("tolerance", "output"));

        double rel = number(c, c.meta.path("tolerance").path("sampler (x_t, model_out_raw, x0_pred_final)").asText(), "<=\\s*([0-9.eE+-]+)\\*\\(1\\+\\|b\\|\\)", "sampler tolerance");
        String call = c.meta.path("calls").path("sampler/<ddpm_plus|ddim>/*").asText();
        int nIter = (int) number(c, call, "n_iter=([0-9]+)", "n_iter");
        TldSampler sampler = new TldSampler(model, backend);
        TldSampler.Settings base = new TldSampler.Settings(number(c, call, "class_guidance=([0-9.eE+-]+)", "class_guidance"), true,
                (float) number(c, call, "sharp_f=([0-9.eE+-]+)", "sharp_f"), (float) number(c, call, "bright_f=([0-9.eE+-]+)", "bright_f"));
        double exponent = number(c, call, "exponent=([0-9.eE+-]+)", "exponent");
        for (String run : List.of("ddpm_plus", "ddim")) {
            String pre = "sampler/" + run + "/";
            TldSampler.Settings s = new TldSampler.Settings(base.class_guidance(), run.equals("ddpm_plus"), base.sharp_f(), base.bright_f());
            List<TldSampler.Call> calls = new ArrayList<>();
            Tensor x0 = Denoising.run(sampler.steps(c.input("sampler/labels"), TldSampler.noiseLevels(nIter, exponent), s, calls::add), c.input("sampler/initial_noise"), Progress.NONE);
            Tensor[] xt = new Tensor[calls.size()], raw = new Tensor[calls.size()];
            float[] levels = new float[calls.size()];
            for (TldSampler.Call k : calls) {
                xt[k.index()] = k.x_t().unsqueeze(0);
                raw[k.index()] = k.model_out_raw().unsqueeze(0);
                levels[k.index()] = (float) k.noise_level();
            }
            c.relative(pre + "x_t", backend.concat(0, xt), rel);
            c.relative(pre + "model_out_raw", backend.concat(0, raw), rel);
            c.relative(pre + "noise_levels_per_call", Tensor.of(levels, levels.length), rel);
            c.relative(pre + "x0_pred_final", x0, rel);
        }
        return c.checks();
    }

    /** A number that meta.json states inside a description string. */
    private static double number(ParityCase c, String text, String regex, String what) {
        Matcher m = Pattern.compile(regex).matcher(text);
        if (!m.find()) throw new WeightFormatException(c.dir.resolve("meta.json") + ": cannot find " + what + " in '" + text + "'");
        return Double.parseDouble(m.group(1));
    }
}
