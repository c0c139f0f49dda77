package dev.tornadodiffusion.cli;

import dev.tornadodiffusion.diffusion.pipelines.GenerationRequest;
import dev.tornadodiffusion.diffusion.pipelines.GenerationResult;
import dev.tornadodiffusion.diffusion.pipelines.LoadOptions;
import dev.tornadodiffusion.diffusion.pipelines.Pipeline;
import dev.tornadodiffusion.diffusion.pipelines.Progress;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** {@code diffuse generate}: text-to-image and image-to-image from a pipeline folder to PNG files. */
final class GenerateCommand implements Command {
    static final Path DEFAULT_MODEL = Path.of(System.getProperty("td.home", "."), "models", "tiny-sd");

    @Override public String name() { return "generate"; }

    @Override
    public String usage() {
        return "--prompt TEXT [--model DIR (models/tiny-sd)] [--negative TEXT] [--steps N (model's: 50 SD)] [--guidance G (7.5 SD, 5 SDXL)]"
                + " [--sampler " + String.join("|", Samplers.forPipeline("").stream().map(Samplers.Sampler::id).toList()) + " (the folder's scheduler)]"
                + " [--seed N (-1: random, the default)] [--width W --height H (the model's size)] [--batch N (1)] [--init-image IMAGE --strength S (0.8)]"
                + " [--guidance-rescale F (0)] [--clip-skip N (0)] [--unet FILE] [--lora FILE[:SCALE][,FILE[:SCALE]...]] [--variant fp16]"
                + " [--refiner DIR --denoising-end F (0.8)] [--device cpu|tornado] [--out FILE.png|.jpg (out/DATE-TIME-SEED-I.png)] [--overwrite]"
                + " [--from-png FILE (its recorded settings; later options win)]";
    }

    @Override
    public int run(String[] argv) throws Exception {
        argv = InfoText.expand(argv);
        Args a = new Args(argv, Set.of("prompt", "model", "negative", "steps", "guidance", "sampler", "seed", "width", "height",
                "batch", "init-image", "strength", "unet", "lora", "variant", "device", "out", "guidance-rescale", "clip-skip",
                "refiner", "denoising-end"), Set.of("overwrite"));
        if (!a.positional().isEmpty()) throw new UsageException("unexpected argument '" + a.positional().get(0) + "'");
        if (!a.has("prompt")) throw new UsageException("--prompt is required");
        Path model = Path.of(a.get("model", DEFAULT_MODEL.toString()));
        if (!Files.isDirectory(model)) throw new UsageException("--model " + model + " is not a folder");
        Checks.generate(a, model);
        long seed = a.getLong("seed", -1);
        boolean randomSeed = seed == -1;
        if (randomSeed) seed = Seeds.random();
        List<Path> outs = Outputs.plan(a.get("out", null), a.has("overwrite"), seed, a.getInt("batch", 1));

        GenerationRequest.Builder rb = GenerationRequest.builder(a.get("prompt", null))
                .negativePrompt(a.get("negative", null))
                .steps(a.has("steps") ? a.getInt("steps", 0) : null)
                .guidanceScale(a.has("guidance") ? a.getFloat("guidance", 0) : null)
                .guidanceRescale(a.getFloat("guidance-rescale", 0))
                .clipSkip(a.getInt("clip-skip", 0))
                .sampler(a.get("sampler", null))
                .seed(seed)
                .width(a.has("width") ? a.getInt("width", 0) : null)
                .height(a.has("height") ? a.getInt("height", 0) : null)
                .batch(a.getInt("batch", 1))
                .strength(a.getFloat("strength", 0.8f));
        if (a.has("init-image")) rb.initImage(Images.read(Path.of(a.get("init-image", null))));
        // with a refiner the base stops at denoising_end (0.8 unless given) and the refiner continues from there
        if (a.has("denoising-end") || a.has("refiner")) rb.denoisingEnd(a.getFloat("denoising-end", 0.8f));
        GenerationRequest request;
        try {
            request = rb.build();
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }

        List<LoadOptions.Lora> loras = new ArrayList<>();
        if (a.has("lora")) for (String spec : a.get("lora", "").split(",")) loras.add(parseLora(spec.trim()));
        LoadOptions options = new LoadOptions(a.get("variant", null), a.has("unet") ? Path.of(a.get("unet", null)) : null, loras);

        var backend = Backends.get(a.get("device", "cpu"));
        if (randomWeights(model))
            System.err.println("generate: " + model + " has RANDOM weights (the bundled tiny model): it makes abstract patterns, not pictures of the prompt; pass --model DIR for a real model");
        long t0 = System.nanoTime();
        GenerationResult result;
        Map<String, String> parameters;
        try (Pipeline pipeline = Pipeline.load(model, backend, options)) {
            System.err.printf("generate: %s on %s (loaded in %.1f s)%n", pipeline.description(), backend.name(), (System.nanoTime() - t0) / 1e9);
            if (randomSeed) System.err.println("generate: seed " + seed + " (random)");
            result = pipeline.generate(request, new ConsoleProgress());
            // the base's settings, with what its text cannot know: LoRAs, --unet, the refiner and where it took over
            parameters = InfoText.withLoad(result.parameters(), options, a.get("refiner", null), request.handoff().denoisingEnd());
            if (a.has("refiner")) {
                try (Pipeline refiner = Pipeline.load(Path.of(a.get("refiner", null)), backend, new LoadOptions(options.variant(), null, List.of()))) {
                    System.err.println("generate: refining with " + refiner.description());
                    result = refiner.generate(request.refinerHandoff(result.latents()), new ConsoleProgress());
                }
            }
        }
        for (int i = 0; i < outs.size(); i++) {
            Path out = outs.get(i);
            Tensor img = result.image(i);
            Outputs.write(out, img, parameters);
            System.out.printf("wrote %s (%dx%d)%n", out, img.dim(1), img.dim(0));
        }
        System.err.printf("generate: done in %.1f s%n", (System.nanoTime() - t0) / 1e9);
        return 0;
    }

    /** Folders made for testing and demos mark themselves with "_random_weights" in model_index.json. */
    static boolean randomWeights(Path model) throws java.io.IOException {
        Path index = model.resolve("model_index.json");
        return Files.isRegularFile(index) && dev.tornadodiffusion.weights.Json.read(index).path("_random_weights").asBoolean(false);
    }

    static LoadOptions.Lora parseLora(String spec) {
        int colon = spec.lastIndexOf(':');
        if (colon > 0 && colon < spec.length() - 1) {
            try {
                return new LoadOptions.Lora(Path.of(spec.substring(0, colon)), Float.parseFloat(spec.substring(colon + 1)));
            } catch (NumberFormatException ignored) {
                // not a scale: the colon belongs to the path
            }
        }
        return new LoadOptions.Lora(Path.of(spec), 1f);
    }

    /** Step i/N, s/it and the ETA ({@link MovingEta}) on stderr. */
    static final class ConsoleProgress implements Progress {
        private final MovingEta eta = new MovingEta();

        @Override public void stage(String name) { System.err.println("  " + name); }

        @Override
        public void step(int step, int total, double secondsPerStep, Tensor latents) {
            System.err.printf("  step %d/%d  %.2f s/it  ETA %.1f s%n", step, total, secondsPerStep, eta.next(secondsPerStep, total - step));
        }
    }
}
