package dev.tornadodiffusion.training;

import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.training.data.CaptionedImages;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * What one training run trains: its models (built over a {@link Tape}), the loss of a batch, and how the result is
 * written as a folder the product loaders read.
 */
public interface Task {

    /** A short name for logs ("vae", "sd", "tld"). */
    String name();

    /** The trainable weights of each component (folder name -> parameters), as the models use them. */
    Map<String, Parameters> components();

    /** Names of tensors that are fixed buffers, not trained ("component/key"). */
    default java.util.Set<String> frozen() { return java.util.Set.of(); }

    /** The loss of one batch, computed on {@code tape}; {@code random} draws the noise and dropout of this batch. */
    Tensor loss(Tape tape, List<CaptionedImages.Example> batch, SplittableRandom random);

    /** Writes the model folder with {@code weights} (component -> key -> tensor) stored as {@code dtype}. */
    void export(Path folder, Map<String, Map<String, Tensor>> weights, DType dtype) throws IOException;

    /** Pictures of what the exported model at {@code folder} makes now, as one [H, W, 3] grid in [0, 1]. */
    Tensor sampleGrid(Path folder, CaptionedImages data) throws IOException;
}
