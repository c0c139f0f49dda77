package dev.tornadodiffusion.weights;

import dev.tornadodiffusion.tensor.Tensor;

import java.util.Map;
import java.util.Set;

/**
 * Named tensors from one or more weight files, keyed by the checkpoint's dotted names
 * ({@code down_blocks.0.resnets.0.conv1.weight}). Tensors may be views of memory-mapped files:
 * they stay valid until {@link #close()}.
 */
public interface StateDict extends AutoCloseable {

    /** Where the tensors come from (a file or folder), for error messages. */
    String source();

    Set<String> keys();

    default boolean contains(String key) { return keys().contains(key); }

    /** The tensor called {@code key}; a missing key is an error naming it and the source. */
    Tensor get(String key);

    /** Free-form string metadata stored with the weights (safetensors {@code __metadata__}); empty when there is none. */
    default Map<String, String> metadata() { return Map.of(); }

    @Override
    default void close() {}

    /** {@code load} applied to weights the result then owns: when loading fails, the weights are closed and the error goes on. */
    static <M> M loadOrClose(StateDict weights, java.util.function.Function<StateDict, M> load) {
        try {
            return load.apply(weights);
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }
}
