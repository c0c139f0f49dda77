package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.Arrays;

/** How the pipelines grow per-prompt tensors to the batch (torch's {@code repeat} as diffusers uses it). */
final class Batch {
    private Batch() {}

    /** torch's {@code x.repeat(n, 1, ...)}: the whole batch {@code n} times over. */
    static Tensor repeat(Backend be, Tensor x, int n) {
        if (n == 1) return x;
        Tensor[] copies = new Tensor[n];
        Arrays.fill(copies, x);
        return be.concat(0, copies);
    }

    /**
     * {@code x.repeat(1, n, ...).view(b * n, ...)} as the pipelines repeat embeddings per prompt: each batch row
     * {@code n} times in a row (the same as {@link #repeat} for one row).
     */
    static Tensor repeatEach(Backend be, Tensor x, int n) {
        if (n == 1 || x.dim(0) == 1) return repeat(be, x, n);
        Tensor[] rows = new Tensor[x.dim(0) * n];
        for (int i = 0; i < rows.length; i++) rows[i] = x.narrow(0, i / n, 1);
        return be.concat(0, rows);
    }
}
