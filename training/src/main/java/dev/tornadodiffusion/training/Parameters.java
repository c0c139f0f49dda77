package dev.tornadodiffusion.training;

import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.SafetensorsWriter;
import dev.tornadodiffusion.weights.StateDict;
import dev.tornadodiffusion.weights.WeightFormatException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * A model's weights as trainable tensors: dense, writable F32 arrays under the checkpoint's key names. It is a
 * {@link StateDict}, so the model classes build over it as over a file ({@code UNet2DConditionModel.load(config,
 * parameters, tape)}), and {@link #save} writes it back as a safetensors file of a diffusers folder.
 */
public final class Parameters implements StateDict {
    private final String source;
    private final Map<String, Tensor> tensors = new TreeMap<>();

    /** Empty: filled by {@link #initializer} while a model is built, or by {@link #put}. */
    public Parameters(String source) {
        this.source = source;
    }

    /** Dense F32 copies of every floating tensor of {@code weights} (memory-mapped F16 included); integer buffers are copied as they are. */
    public static Parameters copyOf(StateDict weights) {
        Parameters p = new Parameters(weights.source());
        for (String k : weights.keys()) {
            Tensor t = weights.get(k);
            p.put(k, t);
        }
        return p;
    }

    /** Adds or replaces {@code key} by a dense copy of {@code t}: F32 for a floating tensor, an integer buffer (position ids) as it is. */
    public Tensor put(String key, Tensor t) {
        Tensor c = t.dtype().floating ? t.to(DType.F32) : t.contiguous();
        tensors.put(key, c);
        return c;
    }

    @Override public String source() { return source; }

    @Override public Set<String> keys() { return Collections.unmodifiableSet(tensors.keySet()); }

    @Override
    public Tensor get(String key) {
        Tensor t = tensors.get(key);
        if (t == null) throw new WeightFormatException(source + ": missing key " + WeightFormatException.quote(key));
        return t;
    }

    /** The tensors by name, in name order (read-only). */
    public Map<String, Tensor> tensors() { return Collections.unmodifiableMap(tensors); }

    /** The number of scalars in all floating tensors. */
    public long count() {
        long n = 0;
        for (Tensor t : tensors.values()) if (t.dtype().floating) n += t.numel();
        return n;
    }

    /**
     * Writes the tensors as a safetensors file, floating ones converted to {@code dtype} (F32, F16 or BF16), e.g.
     * {@code folder/diffusion_pytorch_model.safetensors} next to the model's config.json.
     */
    public void save(Path file, DType dtype) throws IOException {
        if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16) throw new IllegalArgumentException("save as F32, F16 or BF16, not " + dtype);
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (var e : tensors.entrySet()) out.put(e.getKey(), e.getValue().dtype().floating && dtype != DType.F32 ? e.getValue().to(dtype) : e.getValue());
        SafetensorsWriter.write(file, out);
    }

    /**
     * Makes the weights a model asks for when it is built from scratch ({@code new Params(parameters, tape,
     * parameters.initializer(seed))}), with PyTorch's default initialisation: weights of rank 2 and more uniform in
     * +-1/sqrt(fan_in) (torch.nn.Linear/Conv2d's kaiming_uniform with a = sqrt 5), embedding tables normal with
     * std 0.02 (transformers' CLIP init), norm weights 1, biases 0. Each key's values depend only on the seed and
     * the key, not on the order the model asks for them.
     */
    public Params.Generator initializer(long seed) {
        return (key, shape) -> {
            float[] v = new float[Math.toIntExact(Tensor.numel(shape))];
            SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + key.hashCode());
            if (shape.length >= 2 && key.contains("embedding")) {
                for (int i = 0; i < v.length; i++) v[i] = (float) (0.02 * gaussian(r));
            } else if (shape.length >= 2) {
                double bound = 1 / Math.sqrt((double) v.length / shape[0]);
                for (int i = 0; i < v.length; i++) v[i] = (float) r.nextDouble(-bound, bound);
            } else if (key.endsWith("weight")) {
                java.util.Arrays.fill(v, 1f);
            }
            Tensor t = Tensor.of(v, shape);
            tensors.put(key, t);
            return t;
        };
    }

    private static double gaussian(SplittableRandom r) {
        double u1 = r.nextDouble(), u2 = r.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
    }
}
