package dev.tornadodiffusion.training.tasks;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tornadodiffusion.weights.JsonConfig;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.nn.vae.AutoencoderKL;
import dev.tornadodiffusion.nn.vae.AutoencoderKLConfig;
import dev.tornadodiffusion.nn.vae.DiagonalGaussianDistribution;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.tensor.cpu.CpuBackend;
import dev.tornadodiffusion.training.Grid;
import dev.tornadodiffusion.training.Losses;
import dev.tornadodiffusion.training.Noise;
import dev.tornadodiffusion.training.Parameters;
import dev.tornadodiffusion.training.Tape;
import dev.tornadodiffusion.training.Task;
import dev.tornadodiffusion.training.data.CaptionedImages;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * An AutoencoderKL trained to reconstruct images: {@code mse(decode(z), x) + kl_weight * KL(q(z|x) || N(0, I))} with
 * z a sample of the encoder's posterior and the KL averaged over latent elements (a small weight keeps the latents
 * near unit scale without blurring the reconstructions), optionally on random crops. Written as a diffusers {@code vae/} folder.
 */
public final class VaeTask implements Task {
    private final ObjectNode config;
    private final Parameters params;
    private final AutoencoderKL model;
    private final double klWeight;
    private final CaptionedImages data;
    private final int crop;
    private final boolean decoderOnly;

    /**
     * @param crop        side of the random square crops trained on (0: whole images); the VAE is convolutional, crops are cheaper
     * @param decoderOnly train the decoder alone: the encoder, hence the latent space a denoiser was trained on, stays as it is
     */
    public VaeTask(ObjectNode config, Parameters params, long seed, Tape tape, double klWeight, CaptionedImages data, int crop, boolean decoderOnly) {
        if (crop < 0 || crop > data.resolution() || crop % 8 != 0) throw new IllegalArgumentException("--crop must be a multiple of 8 up to the resolution " + data.resolution() + ", got " + crop);
        this.config = config;
        this.data = data;
        this.crop = crop;
        this.decoderOnly = decoderOnly;
        this.params = params;
        this.klWeight = klWeight;
        this.model = new AutoencoderKL(AutoencoderKLConfig.from(new JsonConfig(config, "vae config")), new Params(params, tape, params.initializer(seed)));
        for (String k : params.keys()) if (!decoderOnly || !encoderKey(k)) tape.track(params.get(k));
    }

    private static boolean encoderKey(String k) {
        return k.startsWith("encoder.") || k.startsWith("quant_conv.");
    }

    @Override
    public java.util.Set<String> frozen() {
        java.util.Set<String> keys = new java.util.HashSet<>();
        if (decoderOnly) for (String k : params.keys()) if (encoderKey(k)) keys.add("vae/" + k);
        return keys;
    }

    @Override public String name() { return "vae"; }

    @Override public Map<String, Parameters> components() { return Map.of("vae", params); }

    @Override
    public Tensor loss(Tape tape, List<CaptionedImages.Example> batch, SplittableRandom random) {
        Tensor x = Noise.stack(batch);
        if (crop > 0 && crop < x.dim(2)) {
            int oy = random.nextInt(x.dim(2) - crop + 1), ox = random.nextInt(x.dim(3) - crop + 1);
            x = x.narrow(2, oy, crop).narrow(3, ox, crop).contiguous();
        }
        DiagonalGaussianDistribution q = model.encode(x);
        Tensor z = q.sample(Noise.randn(random, q.mean.shape()));
        Tensor reconstruction = model.decode(z);
        // KL(N(mu, var) || N(0, 1)) per element: 0.5 * (mu^2 + var - 1 - logvar)
        Tensor kl = tape.scale(tape.mean(tape.sub(tape.add(tape.mul(q.mean, q.mean), tape.exp(q.logvar)), tape.add(q.logvar, Tensor.scalar(1f)))), 0.5f);
        return tape.add(Losses.mse(tape, reconstruction, x), tape.scale(kl, (float) klWeight));
    }

    @Override
    public void export(Path folder, Map<String, Map<String, Tensor>> weights, DType dtype) throws IOException {
        Files.createDirectories(folder);
        Configs.write(folder.resolve("config.json"), config);
        Configs.saveWeights(folder.resolve("diffusion_pytorch_model.safetensors"), weights.get("vae"), dtype);
        ObjectNode calibrated = config.deepCopy();
        calibrated.put("scaling_factor", scalingFactor(folder));
        Configs.write(folder.resolve("config.json"), calibrated);
    }

    /** 1 / std of the latents of the first 64 examples, rounded to 5 digits: the latents a denoiser sees have unit scale (as SD's 0.18215). */
    private double scalingFactor(Path folder) throws IOException {
        double sum = 0, sq = 0;
        long n = 0;
        try (AutoencoderKL vae = AutoencoderKL.load(folder, new CpuBackend(), null)) {
            for (int i = 0; i < Math.min(64, data.size()); i++) {
                Tensor x = data.get(i).image();
                for (float v : vae.encode(x.reshape(1, x.dim(0), x.dim(1), x.dim(2))).mean.toFloatArray()) { sum += v; sq += (double) v * v; n++; }
            }
        }
        double mean = sum / n, std = Math.sqrt(Math.max(1e-12, sq / n - mean * mean));
        return Math.round(1e5 / std) / 1e5;
    }

    /** The first 8 examples (top row) and their reconstructions by the exported VAE (bottom row). */
    @Override
    public Tensor sampleGrid(Path folder, CaptionedImages data) throws IOException {
        List<Tensor> originals = new ArrayList<>(), recon = new ArrayList<>();
        try (AutoencoderKL vae = AutoencoderKL.load(folder, new CpuBackend(), null)) {
            for (int i = 0; i < 8; i++) {
                Tensor x = data.get(i).image();
                originals.add(Grid.toImage(x));
                Tensor y = vae.decode(vae.encode(x.reshape(1, x.dim(0), x.dim(1), x.dim(2))).mode());
                recon.add(Grid.toImage(y.select(0, 0)));
            }
        }
        originals.addAll(recon);
        return Grid.of(originals, 8);
    }
}
