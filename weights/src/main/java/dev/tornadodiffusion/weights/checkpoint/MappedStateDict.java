package dev.tornadodiffusion.weights.checkpoint;

import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.StateDict;
import dev.tornadodiffusion.weights.WeightFormatException;

import java.util.Collections;
import java.util.Map;
import java.util.Set;

/**
 * One component of a single-file checkpoint seen under diffusers key names: each key is looked up through
 * {@link KeyTable} and the stored tensor is returned as a view (renamed, reshaped, transposed or sliced, never
 * copied). The checkpoint file belongs to {@link SingleFileCheckpoint}; closing this view does nothing.
 */
final class MappedStateDict implements StateDict {
    private final StateDict stored;
    private final Map<String, KeyTable.Source> sources;
    private final String source;

    MappedStateDict(StateDict stored, Map<String, KeyTable.Source> sources, String source) {
        this.stored = stored;
        this.sources = Collections.unmodifiableMap(sources);
        this.source = source;
        for (Map.Entry<String, KeyTable.Source> e : sources.entrySet()) get(e.getKey());   // checks every reshape once, before any use
    }

    @Override public String source() { return source; }

    @Override public Set<String> keys() { return sources.keySet(); }

    @Override
    public Tensor get(String key) {
        KeyTable.Source s = sources.get(key);
        if (s == null) throw new WeightFormatException(source + ": no tensor " + WeightFormatException.quote(key));
        Tensor t = stored.get(s.key());
        try {
            return s.layout().toDiffusers(t, s.key());
        } catch (WeightFormatException e) {
            throw new WeightFormatException(stored.source() + ": " + e.getMessage(), e);
        }
    }
}
