package dev.tornadodiffusion.nn;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.StateDict;
import dev.tornadodiffusion.weights.WeightFormatException;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import java.util.TreeSet;

/**
 * Strict access to a model's weights under a key prefix: a missing or mis-shaped key is an error naming
 * it, and {@link #checkAllUsed()} reports keys the model did not consume. Also carries the backend the
 * model runs on, so modules are built as {@code new Linear(p.child("to_q"), 320, 320, false)}.
 */
public final class Params {
    private final StateDict weights;
    private final String prefix;
    private final Backend backend;
    private final Set<String> used;
    private final Generator missing;

    /** Makes the weight {@code key} at the {@code shape} a module asks for, when a model is built without a checkpoint. */
    public interface Generator { Tensor make(String key, int[] shape); }

    public Params(StateDict weights, Backend backend) {
        this(weights, "", backend, new HashSet<>(), null);
    }

    /**
     * Params where a key {@code weights} lacks is made by {@code missing} instead of being an error: builds a model
     * at its real size with generated weights (the benchmarks' random models). {@code missing} should add what it makes
     * to {@code weights}, so that {@link #checkAllUsed()} and {@link #has} see it.
     */
    public Params(StateDict weights, Backend backend, Generator missing) {
        this(weights, "", backend, new HashSet<>(), missing);
    }

    private Params(StateDict weights, String prefix, Backend backend, Set<String> used, Generator missing) {
        this.weights = weights;
        this.prefix = prefix;
        this.backend = backend;
        this.used = used;
        this.missing = missing;
    }

    public Backend backend() { return backend; }

    public String prefix() { return prefix; }

    /** The parameters under {@code prefix + name + "."}. */
    public Params child(String name) {
        return new Params(weights, prefix + name + ".", backend, used, missing);
    }

    public Params child(int index) { return child(Integer.toString(index)); }

    public boolean has(String name) { return weights.contains(prefix + name); }

    /** True when any key starts with this prefix + name + ".". */
    public boolean hasChild(String name) {
        String p = prefix + name + ".";
        for (String k : weights.keys()) if (k.startsWith(p)) return true;
        return false;
    }

    /** The tensor {@code prefix + name}, which must have exactly {@code shape}. */
    public Tensor get(String name, int... shape) {
        String key = prefix + name;
        Tensor t;
        if (weights.contains(key)) t = weights.get(key);
        else if (missing != null) t = missing.make(key, shape.clone());
        else throw new WeightFormatException(weights.source() + ": missing key '" + key + "'");
        if (!Arrays.equals(t.shape(), shape))
            throw new WeightFormatException(weights.source() + ": key '" + key + "' has shape " + Arrays.toString(t.shape()) + ", the config needs " + Arrays.toString(shape));
        if (!t.dtype().floating)
            throw new WeightFormatException(weights.source() + ": key '" + key + "' has dtype " + t.dtype() + ", expected a float type");
        used.add(key);
        return t;
    }

    /** Like {@link #get} but null when the key is absent. */
    public Tensor optional(String name, int... shape) {
        return has(name) ? get(name, shape) : null;
    }

    /** Marks a key as consumed without using it (e.g. buffers the reference recomputes). */
    public void ignore(String name) {
        if (has(name)) used.add(prefix + name);
    }

    /** A model built over {@code weights} with every key used (strict loading): {@code build} gets the root Params. */
    public static <M> M strict(StateDict weights, Backend backend, java.util.function.Function<Params, M> build) {
        Params p = new Params(weights, backend);
        M model = build.apply(p);
        p.checkAllUsed();
        return model;
    }

    /** Fails when the weights hold keys under this prefix that no module consumed. */
    public void checkAllUsed() {
        Set<String> unexpected = new TreeSet<>();
        for (String k : weights.keys()) if (k.startsWith(prefix) && !used.contains(k)) unexpected.add(k);
        if (!unexpected.isEmpty()) {
            String first = unexpected.iterator().next();
            throw new WeightFormatException(weights.source() + ": unexpected key '" + first + "'"
                    + (unexpected.size() > 1 ? " (and " + (unexpected.size() - 1) + " more)" : "") + " not used by the model config");
        }
    }
}
