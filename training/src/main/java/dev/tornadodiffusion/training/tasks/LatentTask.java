package dev.tornadodiffusion.training.tasks;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tornadodiffusion.diffusion.pipelines.GenerationRequest;
import dev.tornadodiffusion.diffusion.pipelines.Pipeline;
import dev.tornadodiffusion.diffusion.pipelines.Progress;
import dev.tornadodiffusion.nn.clip.ClipTokenizer;
import dev.tornadodiffusion.nn.vae.AutoencoderKL;
import dev.tornadodiffusion.nn.vae.DiagonalGaussianDistribution;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.tensor.cpu.CpuBackend;
import dev.tornadodiffusion.training.Grid;
import dev.tornadodiffusion.training.Noise;
import dev.tornadodiffusion.training.Task;
import dev.tornadodiffusion.training.data.CaptionedImages;
import dev.tornadodiffusion.training.data.LatentCache;
import dev.tornadodiffusion.training.data.Shapes;
import dev.tornadodiffusion.training.data.ShapesDataset;
import dev.tornadodiffusion.weights.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * What the denoisers' tasks share: a frozen VAE whose posterior samples, times its {@code scaling_factor}, are the
 * training latents; the CLIP tokenizer cut to the text encoder's context length; copying both into the exported folder;
 * sample grids made by the product pipeline loading that folder.
 */
abstract class LatentTask implements Task {
    /** Sampler steps of the sample grids. */
    static final int SAMPLE_STEPS = 20;

    final AutoencoderKL vae;
    final Path vaeFolder, tokenizerFolder;
    final ClipTokenizer tokenizer;
    private final int contextLength;

    LatentTask(Path vaeFolder, Path tokenizerFolder, int contextLength) throws IOException {
        this.vaeFolder = vaeFolder;
        this.tokenizerFolder = tokenizerFolder;
        this.contextLength = contextLength;
        this.vae = AutoencoderKL.load(vaeFolder, new CpuBackend(), null);
        Path tmp = Files.createTempDirectory("tokenizer");
        copyTokenizer(tmp);
        this.tokenizer = ClipTokenizer.load(tmp);
    }

    /** The frozen VAE (to build a {@link LatentCache} with). */
    public AutoencoderKL vae() { return vae; }

    /** Scaled latents of the batch's images: {@code sample(q(z|x)) * scaling_factor} (the posterior from a {@code LatentCache} when given). */
    Tensor latents(List<CaptionedImages.Example> batch, SplittableRandom random) {
        DiagonalGaussianDistribution q;
        if (batch.getFirst().posterior() != null) {
            List<CaptionedImages.Example> posteriors = batch.stream().map(e -> new CaptionedImages.Example(e.posterior(), e.caption())).toList();
            q = new DiagonalGaussianDistribution(Noise.stack(posteriors), new CpuBackend());
        } else {
            q = vae.encode(Noise.stack(batch));
        }
        return vae.scaleLatents(q.sample(Noise.randn(random, q.mean.shape())));
    }

    /** Token ids [B, context] of the captions; each is replaced by {@code dropped} with probability {@code dropout}. */
    Tensor tokenIds(List<CaptionedImages.Example> batch, SplittableRandom random, double dropout, String dropped) {
        long[] ids = new long[batch.size() * contextLength];
        for (int i = 0; i < batch.size(); i++) {
            String caption = random.nextDouble() < dropout ? dropped : batch.get(i).caption();
            int[] t = tokenizer.tokenize(caption);
            for (int j = 0; j < contextLength; j++) ids[i * contextLength + j] = t[j];
        }
        return Tensor.ofLongs(ids, batch.size(), contextLength);
    }

    /** The tokenizer (model_max_length = the text encoder's context) and the VAE, copied into {@code folder}. */
    void copyShared(Path folder) throws IOException {
        copyTokenizer(folder.resolve("tokenizer"));
        Path vaeOut = folder.resolve("vae");
        if (!vaeOut.toAbsolutePath().normalize().equals(vaeFolder.toAbsolutePath().normalize())) copyFolder(vaeFolder, vaeOut);
    }

    private void copyTokenizer(Path out) throws IOException {
        copyFolder(tokenizerFolder, out);
        Path cfg = out.resolve("tokenizer_config.json");
        ObjectNode c = Files.exists(cfg) ? (ObjectNode) Json.read(cfg) : (ObjectNode) Json.parse("{}", "tokenizer_config");
        c.put("model_max_length", contextLength);
        Configs.write(cfg, c);
    }

    static void copyFolder(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : files.toList()) if (Files.isRegularFile(f)) Files.copy(f, to.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
    }

    abstract Pipeline loadPipeline(Path folder) throws IOException;

    /** Eight pictures from the exported pipeline: held-out shapes prompts, or the first captions of another data set. */
    @Override
    public Tensor sampleGrid(Path folder, CaptionedImages data) throws IOException {
        List<String> prompts = new ArrayList<>();
        if ((data instanceof LatentCache c ? c.source() : data) instanceof ShapesDataset) for (Shapes.Scene s : Shapes.heldOutScenes(8, 1)) prompts.add(s.caption());
        else for (int i = 0; i < Math.min(8, data.size()); i++) prompts.add(data.get(i).caption());
        List<Tensor> images = new ArrayList<>();
        try (Pipeline p = loadPipeline(folder)) {
            for (int i = 0; i < prompts.size(); i++)
                images.add(p.generate(GenerationRequest.builder(prompts.get(i)).steps(SAMPLE_STEPS).seed(i).build(), Progress.NONE).image(0));
        }
        return Grid.of(images, 4);
    }
}
