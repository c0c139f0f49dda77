package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.nn.tld.Denoiser;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.Arrays;
import java.util.function.Consumer;

/**
 * TLD's sampler ({@code DiffusionGenerator.generate} in tld/diffusion.py) on x0 predictions with classifier-free
 * guidance: DPM-Solver++(2M) ({@code use_ddpm_plus}) or DDIM with alpha = 1 - sigma, over noise levels
 * {@code 1 - arange(0, 1, 1/n_iter)^exponent} with the first replaced by 0.99, as {@link SamplerSteps} that the
 * pipelines' denoise loop drives. The run ends with the final x0 prediction, before TLD multiplies it by its
 * {@code scale_factor} and decodes it with the VAE.
 *
 * <p>Scalars follow the upstream arithmetic: noise levels are float32 values held as doubles (the first is the
 * double 0.99), step coefficients are computed in double and applied to float32 tensors.
 */
public final class TldSampler {
    private final Denoiser model;
    private final Backend be;

    /** One model evaluation: the latent x_t [n, C, S, S] it was given and the raw output [2n, C, S, S] (conditional rows first). */
    public record Call(int index, double noise_level, Tensor x_t, Tensor model_out_raw) {}

    /**
     * {@code generate()}'s arguments that shape the result (upstream names and defaults: class_guidance 3,
     * use_ddpm_plus true, sharp_f 0.1, bright_f 0.1; TLD's text-to-image entry point passes sharp_f = bright_f = 0).
     */
    public record Settings(double class_guidance, boolean use_ddpm_plus, float sharp_f, float bright_f) {}

    public TldSampler(Denoiser model, Backend be) {
        this.model = model;
        this.be = be;
    }

    /** {@code (1 - torch.pow(torch.arange(0, 1, 1 / n_iter), exponent)).tolist()} with element 0 set to 0.99. */
    public static double[] noiseLevels(int n_iter, double exponent) {
        if (n_iter < 2) throw new IllegalArgumentException("TLD sampler: n_iter must be at least 2, got " + n_iter);
        double step = 1.0 / n_iter;
        int n = (int) Math.ceil(1.0 / step);   // torch.arange's length
        double[] levels = new double[n];
        for (int i = 0; i < n; i++) {
            float t = (float) (step * i);
            float pow = exponent == 1.0 ? t : (float) Math.pow(t, (float) exponent);
            levels[i] = 1f - pow;
        }
        levels[0] = 0.99;
        return levels;
    }

    /**
     * The run's steps for the denoise loop ({@code Denoising.run}), from the starting x_t (TLD draws it with
     * torch.randn, or takes it as {@code seeds}): one guided x0 prediction per noise level; every step but the last
     * moves x_t to the next level (DPM-Solver++(2M) or DDIM), the last returns its x0 (shifted by sharp_f / bright_f).
     *
     * @param labels      [n, text_emb_size] conditioning; the unconditional half uses zeros
     * @param noiseLevels decreasing levels in (0, 1), at least two (see {@link #noiseLevels})
     * @param observer    sees every model call, or null
     */
    public SamplerSteps steps(Tensor labels, double[] noiseLevels, Settings settings, Consumer<Call> observer) {
        if (noiseLevels.length < 2) throw new IllegalArgumentException("TLD sampler: needs at least two noise levels, got " + Arrays.toString(noiseLevels));
        double[] rs = settings.use_ddpm_plus() ? stepRatios(noiseLevels) : null;
        Tensor labelsCfg = be.concat(0, labels, Tensor.zeros(labels.shape()));
        return new SamplerSteps() {
            private Tensor x0Prev;

            @Override public int count() { return noiseLevels.length; }

            @Override
            public Tensor step(int i, Tensor x, Consumer<Tensor> rawOutput) {
                double curr = noiseLevels[i];
                Tensor x0 = predImage(x, labelsCfg, curr, settings.class_guidance(), i, observer, rawOutput);
                if (i == noiseLevels.length - 1) return shifted(x0, settings);
                double next = noiseLevels[i + 1];
                Tensor d = x0;
                if (x0Prev != null && rs != null) {
                    double r = rs[i - 1];
                    d = be.sub(be.scale(x0, (float) (1 + 1 / (2 * r))), be.scale(x0Prev, (float) (1 / (2 * r))));
                }
                x0Prev = x0;
                return be.scale(be.add(be.scale(d, (float) (curr - next)), be.scale(x, (float) next)), (float) (1 / (float) curr));
            }
        };
    }

    /** The final x0 with {@code x0[:, 3] += sharp_f; x0[:, 0] += bright_f}. */
    private Tensor shifted(Tensor x0, Settings settings) {
        if (settings.sharp_f() == 0 && settings.bright_f() == 0) return x0;
        if (x0.dim(1) < 4) throw new IllegalArgumentException("TLD sampler: sharp_f / bright_f shift latent channels 3 and 0, the latent has " + x0.dim(1));
        float[] shift = new float[x0.dim(1)];
        shift[3] = settings.sharp_f();
        shift[0] = settings.bright_f();
        return be.add(x0, Tensor.of(shift, 1, shift.length, 1, 1));
    }

    /** rs[i] = hs[i] / hs[i+1] with hs the steps of lambda = log((1 - sigma) / sigma), in double. */
    private static double[] stepRatios(double[] levels) {
        double[] lambdas = new double[levels.length];
        for (int i = 0; i < levels.length; i++) lambdas[i] = Math.log((1 - levels[i]) / levels[i]);
        double[] hs = new double[levels.length - 1];
        for (int i = 1; i < levels.length; i++) hs[i - 1] = lambdas[i] - lambdas[i - 1];
        double[] rs = new double[Math.max(0, hs.length - 1)];
        for (int i = 1; i < hs.length; i++) rs[i - 1] = hs[i - 1] / hs[i];
        return rs;
    }

    /**
     * The guided x0: cfg * model(x, labels) + (1 - cfg) * model(x, zeros), both halves in one batch, as ONE device
     * call (the duplication and the guidance inside it); the raw output comes back too only for an observer.
     */
    private Tensor predImage(Tensor x, Tensor labelsCfg, double noiseLevel, double cfg, int call, Consumer<Call> observer, Consumer<Tensor> rawOutput) {
        int n = x.dim(0);
        float[] levels = new float[2 * n];
        Arrays.fill(levels, (float) noiseLevel);
        boolean raw = observer != null || rawOutput != null;
        Tensor[] out = be.runAll(model, in -> {
            Tensor pred = model.forward(be.concat(0, in[0], in[0]), in[1], in[2]);
            Tensor x0 = be.add(be.scale(pred.narrow(0, 0, n), (float) cfg), be.scale(pred.narrow(0, n, n), (float) (1 - cfg)));
            return raw ? new Tensor[]{x0, pred} : new Tensor[]{x0};
        }, x, Tensor.of(levels, 2 * n, 1), labelsCfg);
        if (observer != null) observer.accept(new Call(call, noiseLevel, x, out[1]));
        if (rawOutput != null) rawOutput.accept(out[1]);
        return out[0];
    }
}
