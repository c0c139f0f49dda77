package dev.tornadodiffusion.weights.lora;

import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.StateDict;
import dev.tornadodiffusion.weights.WeightFormatException;

import java.util.Arrays;
import java.util.Map;
import java.util.Set;

/**
 * A model's weights with LoRA updates merged in: the patched weights are new tensors computed when read, every
 * other tensor is the base's own, and the base is never written to. Closing the overlay does not close the base.
 */
final class LoraOverlay implements StateDict {
    private final StateDict base;
    private final Map<String, Lora.Update> updates;
    private final float scale;
    private final String lora;

    LoraOverlay(StateDict base, Map<String, Lora.Update> updates, float scale, String lora) {
        this.base = base;
        this.updates = Map.copyOf(updates);
        this.scale = scale;
        this.lora = lora;
    }

    @Override public String source() { return base.source() + " + LoRA " + lora; }

    @Override public Set<String> keys() { return base.keys(); }

    @Override public Map<String, String> metadata() { return base.metadata(); }

    @Override
    public Tensor get(String key) {
        Lora.Update u = updates.get(key);
        return u == null ? base.get(key) : merge(base.get(key), u, scale);
    }

    /** {@code weight} [out, in, kh, kw...] and the update's down [r, in, kh, kw...] / up [out, r, 1, 1...] must fit. */
    static void checkShapes(Lora.Update u, Tensor weight, String source) {
        int[] w = weight.shape();
        long in = w.length < 2 ? -1 : weight.numel() / w[0];
        if (w.length < 2 || u.up().dim(0) != w[0] || u.up().numel() != (long) w[0] * u.rank() || u.down().numel() != u.rank() * in)
            throw new WeightFormatException(source + ": LoRA " + WeightFormatException.quote(u.key()) + " (down " + Arrays.toString(u.down().shape()) + ", up "
                    + Arrays.toString(u.up().shape()) + ") does not fit the weight " + Arrays.toString(w));
    }

    /**
     * {@code W + scale * ((up * alpha) / rank) @ down} in float32, as diffusers' {@code _fuse_lora}: up is scaled first
     * (only when the file gives an alpha), the product is scaled by the strength and added, the sum is stored in W's dtype.
     */
    static Tensor merge(Tensor weight, Lora.Update u, float scale) {
        int out = weight.dim(0), rank = u.rank(), in = (int) (weight.numel() / out);
        float[] up = u.up().toFloatArray();
        if (u.alpha() != null) {
            float alpha = u.alpha();
            for (int i = 0; i < up.length; i++) up[i] = up[i] * alpha / rank;
        }
        float[] delta = Backends.cpu().matmul(Tensor.of(up, out, rank), u.down().reshape(rank, in)).array();
        float[] w = weight.toFloatArray();
        for (int i = 0; i < w.length; i++) w[i] += scale * delta[i];
        Tensor merged = Tensor.of(w, weight.shape());
        return weight.dtype() == DType.F32 ? merged : merged.to(weight.dtype());
    }
}
