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
 * copied). Closing it closes the file only when it owns it ({@link SingleFileCheckpoint#openComponent}); otherwise the
 * file belongs to the {@link SingleFileCheckpoint}.
 */
final class MappedStateDict implements StateDict {
    private final StateDict stored;
    private final Map<String, KeyTable.Source> sources;
    private final String source;
    private final boolean ownsFile;

    MappedStateDict(StateDict stored, Map<String, KeyTable.Source> sources, String source) {
        this(stored, sources, source, false);
        for (Map.Entry<String, KeyTable.Source> e : sources.entrySet()) get(e.getKey());   // checks every reshape once, before any use
    }

    private MappedStateDict(StateDict stored, Map<String, KeyTable.Source> sources, String source, boolean ownsFile) {
        this.stored = stored;
        this.sources = Collections.unmodifiableMap(sources);
        this.source = source;
        this.ownsFile = ownsFile;
    }

    /** The same view, owning the file: closing it closes the file. */
    MappedStateDict owningFile() {
        return new MappedStateDict(stored, sources, source, true);
    }

    @Override
    public void close() {
        if (ownsFile) stored.close();
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
