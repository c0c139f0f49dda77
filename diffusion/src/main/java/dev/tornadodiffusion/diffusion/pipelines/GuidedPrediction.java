package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.nn.unet.UNet2DConditionModel;
import dev.tornadodiffusion.nn.unet.UNetConditioning;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.Arrays;
import java.util.function.Consumer;

/**
 * One step's noise prediction with classifier-free guidance, as ONE device call ({@link Backend#run}): the latent
 * is duplicated for the unconditional and text halves, the UNet runs on both, and the halves are combined
 * ({@code uncond + g * (text - uncond)}) inside the call, so a recording backend (TornadoVM) takes the latent to the
 * device once and brings the guided prediction back once per step. Guidance rescale needs per-sample standard
 * deviations (a reduction the Backend does not offer), so it runs on the host after the call, on the text half the
 * call then also returns.
 */
record GuidedPrediction(Backend be, UNet2DConditionModel unet, UNetConditioning conditioning, float guidanceScale,
                        float guidanceRescale, boolean doCfg) {

    /**
     * The guided noise prediction for {@code latentModelInput} (already scaled by the scheduler) at timestep
     * {@code t} ([1] tensor); hands the raw UNet output to {@code rawOutput} unless it is null.
     */
    Tensor predict(Tensor latentModelInput, Tensor t, Consumer<Tensor> rawOutput) {
        boolean rescale = doCfg && guidanceRescale > 0, raw = rawOutput != null;
        Tensor[] out = be.runAll(unet, x -> {
            Tensor noise = unet.forward(doCfg ? be.concat(0, x[0], x[0]) : x[0], x[1], conditioning.bind(x, 2));
            if (!doCfg) return new Tensor[]{noise};
            Tensor[] parts = noise.chunk(2, 0);
            Tensor uncond = parts[0], text = parts[1];
            Tensor guided = be.add(uncond, be.scale(be.sub(text, uncond), guidanceScale));
            if (rescale && raw) return new Tensor[]{guided, text, noise};
            if (rescale) return new Tensor[]{guided, text};
            return raw ? new Tensor[]{guided, noise} : new Tensor[]{guided};
        }, conditioning.inputs(latentModelInput, t));
        if (raw) rawOutput.accept(out[out.length - 1]);
        return rescale ? rescaleNoiseCfg(out[0], out[1]) : out[0];
    }

    /**
     * {@code rescale_noise_cfg} (Lin et al., "Common Diffusion Noise Schedules and Sample Steps are Flawed", 3.4):
     * rescale the guided prediction to the per-sample standard deviation of the text prediction.
     */
    Tensor rescaleNoiseCfg(Tensor cfg, Tensor text) {
        int b = cfg.dim(0);
        float[] factor = new float[b];
        for (int i = 0; i < b; i++) factor[i] = (float) (std(text.select(0, i)) / std(cfg.select(0, i)));
        int[] shape = new int[cfg.rank()];
        Arrays.fill(shape, 1);
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
}
