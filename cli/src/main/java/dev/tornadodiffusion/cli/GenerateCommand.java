package dev.tornadodiffusion.cli;

import dev.tornadodiffusion.cli.bench.PeakMemory;
import dev.tornadodiffusion.diffusion.image.Png;
import dev.tornadodiffusion.diffusion.pipelines.GenerationRequest;
import dev.tornadodiffusion.diffusion.pipelines.GenerationResult;
import dev.tornadodiffusion.diffusion.pipelines.LoadOptions;
import dev.tornadodiffusion.diffusion.pipelines.Pipeline;
import dev.tornadodiffusion.diffusion.pipelines.Progress;
import dev.tornadodiffusion.diffusion.schedulers.Samplers;
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
        return "--prompt TEXT [--model DIR|FILE.safetensors|FILE.ckpt (models/tiny-sd) [--model-config DIR]] [--negative TEXT] [--steps N (model's: 50 SD)] [--guidance G (7.5 SD, 5 SDXL)]"
                + " [--sampler NAME (the folder's scheduler; names below)]"
                + " [--seed N (-1: random, the default)] [--width W --height H (the model's size)] [--batch N (1; image i has seed + i)] [--init-image IMAGE [--mask IMAGE] --strength S (0.8; 1 with a mask)]"
                + " [--guidance-rescale F (0)] [--clip-skip N (0)] [--unet FILE|DIR] [--lora FILE[:SCALE][,FILE[:SCALE]...]] [--vae-tiny DIR] [--preview-every N] [--literal-prompt] [--variant fp16]"
                + " [--refiner DIR --denoising-end F (0.8)] [--device cpu|tornado] [--out FILE.png|.jpg (out/DATE-TIME-SEED-I.png)] [--overwrite]"
                + " [--from-png FILE (its recorded settings; later options win)] [--max-memory BYTES[k|m|g]]" + "\n"
                + "  prompts: A1111 emphasis ((word), (word:1.3), [word], BREAK) and any length (75-token chunks); --literal-prompt: as written\n"
                + "  --model FILE: a single-file SD 1.x/2.x/SDXL checkpoint, converted once as convert does into a cached folder"
                + " (~/.cache/tornado-diffusion; -Dtd.cache=DIR); --model-config DIR: its configs, tokenizers and scheduler from a diffusers folder\n"
                + "  --mask: white = repaint (an inpainting UNet, or a normal one keeping the rest); strength defaults to 1 there\n"
                + "  --vae-tiny: a TAESD folder for a fast final decode and the previews (--preview-every N writes OUT-preview.png)\n"
                + "  samplers: " + String.join(", ", Samplers.names()) + "; add \" Karras\" or \"-karras\" for Karras sigmas";
    }

    @Override
    public int run(String[] argv) throws Exception {
        argv = InfoText.expand(argv);
        Args a = new Args(argv, Set.of("prompt", "model", "negative", "steps", "guidance", "sampler", "seed", "width", "height",
                "batch", "init-image", "strength", "unet", "lora", "variant", "device", "out", "guidance-rescale", "clip-skip",
                "refiner", "denoising-end", "mask", "vae-tiny", "preview-every", "model-config", "max-memory"), Set.of("overwrite", "literal-prompt"));
        if (!a.positional().isEmpty()) throw new UsageException("unexpected argument '" + a.positional().get(0) + "'");
        if (!a.has("prompt")) throw new UsageException("--prompt is required");
        Path model = SingleFileModels.folder(Path.of(a.get("model", DEFAULT_MODEL.toString())),
                a.has("model-config") ? Path.of(a.get("model-config", null)) : null, System.err);
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
                .literalPrompt(a.has("literal-prompt"))
                // diffusers' inpainting pipelines start from pure noise unless told otherwise
                .strength(a.getFloat("strength", a.has("mask") ? 1f : 0.8f));
        if (a.has("mask") && !a.has("init-image")) throw new UsageException("--mask needs --init-image (the image to inpaint)");
        if (a.has("init-image")) {
            Tensor init = Images.read(Path.of(a.get("init-image", null)));
            System.err.println("generate: " + Checks.initImageSize(model, init, a).rule());
            rb.initImage(init);
        }
        if (a.has("mask")) rb.mask(Images.read(Path.of(a.get("mask", null))));
        int previewEvery = a.getInt("preview-every", 0);
        if (previewEvery < 0) throw new UsageException("--preview-every must be at least 1, got " + previewEvery);
        if (a.has("vae-tiny") && !Files.isDirectory(Path.of(a.get("vae-tiny", null))))
            throw new UsageException("--vae-tiny " + a.get("vae-tiny", null) + " is not a folder (a diffusers AutoencoderTiny / TAESD folder)");
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
        LoadOptions options = new LoadOptions(a.get("variant", null), a.has("unet") ? Path.of(a.get("unet", null)) : null, loras,
                a.has("vae-tiny") ? Path.of(a.get("vae-tiny", null)) : null);

        // refused before loading when it cannot fit: --max-memory, the machine's free memory, this JVM's heap
        MemoryEstimate need = MemoryEstimate.forPipeline(model, request.width(), request.height(), request.batch(),
                request.guidanceScale() == null || request.guidanceScale() > 1, options.variant());
        if (a.has("max-memory")) need.check(ServeCommand.bytes(a.get("max-memory", "")), "--max-memory");
        need.checkMachine(PeakMemory.resident("VmRSS"));
        var backend = Backends.get(a.get("device", "cpu"));
        if (randomWeights(model))
            System.err.println("generate: " + model + " has RANDOM weights (the bundled tiny model): it makes abstract patterns, not pictures of the prompt; pass --model DIR for a real model");
        long t0 = System.nanoTime();
        try (Pipeline pipeline = Pipeline.load(model, backend, options);
             Pipeline refiner = a.has("refiner") ? Pipeline.load(Path.of(a.get("refiner", null)), backend, new LoadOptions(options.variant(), null, List.of())) : null) {
            System.err.printf("generate: %s on %s (loaded in %.1f s)%n", pipeline.description(), backend.name(), (System.nanoTime() - t0) / 1e9);
            if (refiner != null) System.err.println("generate: refining with " + refiner.description());
            if (randomSeed) System.err.println("generate: seed " + seed + " (random)");
            // as A1111: image i of a batch is the image of seed + i alone, its own noise and sampler noise, recorded
            // with that seed, so that its PNG (--from-png) makes it again
            for (int i = 0; i < outs.size(); i++) {
                GenerationRequest one = request.toBuilder().seed(seed + i).batch(1).build();
                if (outs.size() > 1) System.err.printf("generate: image %d/%d, seed %d%n", i + 1, outs.size(), one.seed());
                GenerationResult result = pipeline.generate(one, new ConsoleProgress(previewEvery, previewPath(outs.get(i))));
                // the base's settings, with what its text cannot know: LoRAs, --unet, the refiner and where it took over
                Map<String, String> parameters = InfoText.withLoad(result.parameters(), options, a.get("refiner", null), one.handoff().denoisingEnd(),
                        one.literalPrompt());
                if (refiner != null) result = refiner.generate(one.refinerHandoff(result.latents()), new ConsoleProgress());
                Path out = outs.get(i);
                Tensor img = result.image(0);
                Outputs.write(out, img, parameters);
                System.out.printf("wrote %s (%dx%d)%n", out, img.dim(1), img.dim(0));
            }
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

    /** {@code out.png} -> {@code out-preview.png}. */
    static Path previewPath(Path out) {
        String name = out.getFileName().toString();
        String base = name.endsWith(".png") ? name.substring(0, name.length() - 4) : name;
        return out.resolveSibling(base + "-preview.png");
    }

    /** Step i/N, s/it and the ETA ({@link MovingEta}) on stderr; every {@code previewEvery} steps the first image so far to {@code previewFile}. */
    static final class ConsoleProgress implements Progress {
        private final MovingEta eta = new MovingEta();
        private final int previewEvery;
        private final Path previewFile;

        ConsoleProgress() {
            this(0, null);
        }

        ConsoleProgress(int previewEvery, Path previewFile) {
            this.previewEvery = previewEvery;
            this.previewFile = previewFile;
        }

        @Override public void stage(String name) { System.err.println("  " + name); }

        @Override public int previewEvery() { return previewEvery; }

        @Override
        public void preview(int step, Tensor images) {
            try {
                if (previewFile.getParent() != null) Files.createDirectories(previewFile.getParent());
                Png.write(previewFile, images.select(0, 0), java.util.Map.of("parameters", "preview after step " + step));
                System.err.println("  preview: " + previewFile);
            } catch (java.io.IOException e) {
                System.err.println("  preview: cannot write " + previewFile + ": " + e.getMessage());
            }
        }

        @Override
        public void step(int step, int total, double secondsPerStep, Tensor latents) {
            System.err.printf("  step %d/%d  %.2f s/it  ETA %.1f s%n", step, total, secondsPerStep, eta.next(secondsPerStep, total - step));
        }
    }
}
