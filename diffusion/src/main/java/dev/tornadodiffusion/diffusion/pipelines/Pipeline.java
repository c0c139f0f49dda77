package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.tensor.Backend;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A loaded text-to-image pipeline. {@link #generate} may be called from several threads at once on one
 * loaded pipeline: every request gets its own scheduler and generator; the models are read-only.
 */
public interface Pipeline extends AutoCloseable {

    /** Loads the pipeline of a diffusers folder (model_index.json) or a TLD folder. */
    static Pipeline load(Path dir, Backend backend, LoadOptions options) throws IOException {
        return Pipelines.load(dir, backend, options);
    }

    GenerationResult generate(GenerationRequest request, Progress progress);

    /** One line: class, folder, main sizes. */
    String description();

    int defaultWidth();

    int defaultHeight();

    @Override
    void close();
}
