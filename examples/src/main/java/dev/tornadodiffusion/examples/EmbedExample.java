package dev.tornadodiffusion.examples;

import dev.tornadodiffusion.diffusion.image.Png;
import dev.tornadodiffusion.diffusion.pipelines.GenerationRequest;
import dev.tornadodiffusion.diffusion.pipelines.GenerationResult;
import dev.tornadodiffusion.diffusion.pipelines.LoadOptions;
import dev.tornadodiffusion.diffusion.pipelines.Pipeline;
import dev.tornadodiffusion.diffusion.pipelines.Progress;
import dev.tornadodiffusion.tensor.Backends;

import java.nio.file.Path;

/**
 * The smallest program that embeds Tornado Diffusion: load a pipeline folder once, generate, save a PNG.
 * Run from the repository root: {@code examples/run EmbedExample models/tiny-sd "a red fox" fox.png}
 */
public final class EmbedExample {
    public static void main(String[] args) throws Exception {
        Path model = Path.of(args.length > 0 ? args[0] : "models/tiny-sd");
        String prompt = args.length > 1 ? args[1] : "a red fox in the snow";
        Path out = Path.of(args.length > 2 ? args[2] : "fox.png");

        try (Pipeline pipeline = Pipeline.load(model, Backends.cpu(), LoadOptions.DEFAULT)) {
            GenerationRequest request = GenerationRequest.builder(prompt).steps(20).seed(42).build();
            GenerationResult result = pipeline.generate(request, new Progress() {
                @Override
                public void step(int step, int total, double secondsPerStep, dev.tornadodiffusion.tensor.Tensor latents) {
                    System.out.printf("step %d/%d (%.2f s/it)%n", step, total, secondsPerStep);
                }
            });
            Png.write(out, result.image(0), result.parameters());
            System.out.println("wrote " + out);
        }
    }
}
