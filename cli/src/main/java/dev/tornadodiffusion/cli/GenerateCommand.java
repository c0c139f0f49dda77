package dev.tornadodiffusion.cli;

import dev.tornadodiffusion.diffusion.image.Png;
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
import java.util.Set;

/** {@code diffuse generate}: text-to-image and image-to-image from a pipeline folder to PNG files. */
final class GenerateCommand implements Command {
    static final Path DEFAULT_MODEL = Path.of(System.getProperty("td.home", "."), "models", "tiny-sd");

    @Override public String name() { return "generate"; }

    @Override
    public String usage() {
        return "--prompt TEXT [--model DIR] [--negative TEXT] [--steps N] [--guidance G] [--sampler NAME] [--seed N]"
                + " [--width W --height H] [--batch N] [--init-image PNG --strength S] [--unet FILE] [--lora FILE[:SCALE][,FILE[:SCALE]...]]"
                + " [--variant fp16] [--refiner DIR --denoising-end F] [--device cpu|tornado] [--out FILE.png]";
    }

    @Override
    public int run(String[] argv) throws Exception {
        Args a = new Args(argv, Set.of("prompt", "model", "negative", "steps", "guidance", "sampler", "seed", "width", "height",
                "batch", "init-image", "strength", "unet", "lora", "variant", "device", "out", "guidance-rescale", "clip-skip",
                "refiner", "denoising-end"), Set.of());
        if (!a.positional().isEmpty()) throw new UsageException("unexpected argument '" + a.positional().get(0) + "'");
        if (!a.has("prompt")) throw new UsageException("--prompt is required");
        Path model = Path.of(a.get("model", DEFAULT_MODEL.toString()));
        if (!Files.isDirectory(model)) throw new UsageException("--model " + model + " is not a folder");
        long seed = a.getLong("seed", 0);

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
        try (Pipeline pipeline = Pipeline.load(model, backend, options)) {
            System.err.printf("generate: %s on %s (loaded in %.1f s)%n", pipeline.description(), backend.name(), (System.nanoTime() - t0) / 1e9);
            result = pipeline.generate(request, new ConsoleProgress());
            if (a.has("refiner")) {
                try (Pipeline refiner = Pipeline.load(Path.of(a.get("refiner", null)), backend, new LoadOptions(options.variant(), null, List.of()))) {
                    System.err.println("generate: refining with " + refiner.description());
                    result = refiner.generate(request.toBuilder().initImage(null).denoisingEnd(null).denoisingStart(request.denoisingEnd())
                            .latents(result.latents()).build(), new ConsoleProgress());
                }
            }
        }
        List<Path> outs = outputs(a.get("out", null), seed, result.images().dim(0));
        for (int i = 0; i < outs.size(); i++) {
            Path out = outs.get(i);
            if (out.getParent() != null) Files.createDirectories(out.getParent());
            Tensor img = result.image(i);
            Png.write(out, img, result.parameters());
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

    private static List<Path> outputs(String out, long seed, int n) {
        List<Path> paths = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            if (out == null) paths.add(Path.of("out", String.format("%d-%d-%d.png", System.currentTimeMillis() / 1000, seed, i)));
            else if (n == 1) paths.add(Path.of(out));
            else {
                String base = out.endsWith(".png") ? out.substring(0, out.length() - 4) : out;
                paths.add(Path.of(base + "-" + i + ".png"));
            }
        }
        return paths;
    }

    /** Step i/N, s/it and ETA on stderr. */
    static final class ConsoleProgress implements Progress {
        @Override public void stage(String name) { System.err.println("  " + name); }

        @Override
        public void step(int step, int total, double secondsPerStep, Tensor latents) {
            double eta = (total - step) * secondsPerStep;
            System.err.printf("  step %d/%d  %.2f s/it  ETA %.1f s%n", step, total, secondsPerStep, eta);
        }
    }
}
