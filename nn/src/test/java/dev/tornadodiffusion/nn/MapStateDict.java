package dev.tornadodiffusion.nn;

import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.StateDict;
import dev.tornadodiffusion.weights.WeightFormatException;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** An in-memory StateDict for tests. */
public final class MapStateDict implements StateDict {
    public final Map<String, Tensor> tensors = new LinkedHashMap<>();

    public MapStateDict put(String key, Tensor t) {
        tensors.put(key, t);
        return this;
    }

    @Override public String source() { return "test weights"; }
    @Override public Set<String> keys() { return tensors.keySet(); }

    @Override
    public Tensor get(String key) {
        Tensor t = tensors.get(key);
        if (t == null) throw new WeightFormatException("test weights: missing key '" + key + "'");
        return t;
    }
}
