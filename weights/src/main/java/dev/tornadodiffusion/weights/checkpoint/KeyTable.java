package dev.tornadodiffusion.weights.checkpoint;

import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.StateDict;
import dev.tornadodiffusion.weights.WeightFormatException;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The one correspondence between a model's diffusers key names and the names an original-layout checkpoint
 * (CompVis LDM, Stability SGM, OpenCLIP) stores the same tensors under. It is used in both directions: loading
 * renames original keys into diffusers keys ({@link #toDiffusers}), conversion back renames diffusers keys into
 * original ones ({@link #toOriginal}).
 * <p>
 * A rule pairs two names. A module rule ({@code down_blocks.0.resnets.0.conv1 <-> input_blocks.1.0.in_layers.2})
 * renames every tensor under that module, the longest matching rule winning; a tensor rule pairs two full keys
 * and says how the stored tensor relates to the diffusers one ({@link Layout}). Original keys under an ignored
 * name (buffers such as {@code position_ids}) are dropped; any other key no rule covers is an error naming it.
 */
public final class KeyTable {

    /** How a tensor stored in the original layout relates to the diffusers tensor. */
    public enum Layout {
        /** Same shape. */
        SAME,
        /** A Linear weight [out, in] stored as a 1x1 convolution weight [out, in, 1, 1] (LDM VAE attention). */
        CONV_1X1,
        /** Stored transposed (OpenCLIP {@code text_projection} [width, proj] used as {@code x @ P}). */
        TRANSPOSED,
        /** Row block 0, 1 or 2 of three stacked on dimension 0 (OpenCLIP {@code in_proj_weight} = q, k, v). */
        PACKED_Q, PACKED_K, PACKED_V;

        /** The diffusers tensor from the stored one; a view, no copy. */
        Tensor toDiffusers(Tensor stored, String key) {
            int[] s = stored.shape();
            return switch (this) {
                case SAME -> stored;
                case CONV_1X1 -> {
                    if (s.length == 2) yield stored;   // some files already store the Linear shape
                    if (s.length != 4 || s[2] != 1 || s[3] != 1) throw shape(key, s, "a 1x1 convolution weight [out, in, 1, 1]");
                    yield stored.reshape(s[0], s[1]);
                }
                case TRANSPOSED -> {
                    if (s.length != 2) throw shape(key, s, "a matrix");
                    yield stored.transpose(0, 1);
                }
                case PACKED_Q, PACKED_K, PACKED_V -> {
                    if (s.length < 1 || s[0] % 3 != 0) throw shape(key, s, "q, k and v stacked on dimension 0");
                    yield stored.narrow(0, (ordinal() - PACKED_Q.ordinal()) * (s[0] / 3), s[0] / 3);
                }
            };
        }

        /** The stored tensor from the diffusers one, for the layouts that store one tensor as one (not the packed ones). */
        Tensor toOriginal(Tensor diffusers) {
            return switch (this) {
                case SAME -> diffusers;
                case CONV_1X1 -> diffusers.rank() == 2 ? diffusers.reshape(diffusers.dim(0), diffusers.dim(1), 1, 1) : diffusers;
                case TRANSPOSED -> diffusers.transpose(0, 1);
                case PACKED_Q, PACKED_K, PACKED_V -> throw new IllegalStateException(this + " is stored with two other tensors");
            };
        }

        private static WeightFormatException shape(String key, int[] s, String expected) {
            return new WeightFormatException("tensor " + WeightFormatException.quote(key) + " has shape " + Arrays.toString(s) + ", expected " + expected);
        }
    }

    /** Where a diffusers tensor comes from: the stored key and its layout. */
    public record Source(String key, Layout layout) {}

    private record Rule(String diffusers, String original, Layout layout) {}

    private final Map<String, Rule> modulesByOriginal = new HashMap<>(), modulesByDiffusers = new HashMap<>();
    private final Map<String, List<Rule>> tensorsByOriginal = new HashMap<>();
    private final Map<String, Rule> tensorsByDiffusers = new HashMap<>();
    private final List<String> ignored = new ArrayList<>();

    /** Every tensor under diffusers module {@code diffusers} is stored under {@code original}, unchanged. */
    public KeyTable module(String diffusers, String original) {
        Rule r = new Rule(diffusers, original, Layout.SAME);
        modulesByOriginal.put(original, r);
        modulesByDiffusers.put(diffusers, r);
        return this;
    }

    /** Diffusers tensor {@code diffusers} is stored as {@code original} in {@code layout} (overrides module rules). */
    public KeyTable tensor(String diffusers, String original, Layout layout) {
        Rule r = new Rule(diffusers, original, layout);
        tensorsByOriginal.computeIfAbsent(original, k -> new ArrayList<>()).add(r);
        tensorsByDiffusers.put(diffusers, r);
        return this;
    }

    /** Original keys equal to or under {@code original} are not model weights (buffers, unused heads): dropped on load. */
    public KeyTable ignore(String original) {
        ignored.add(original);
        return this;
    }

    /**
     * Diffusers key -> stored key and layout for every stored key in {@code originalKeys} (given without the
     * component prefix; {@code prefix} only goes into error messages and the returned sources).
     */
    public Map<String, Source> toDiffusers(Collection<String> originalKeys, String prefix) {
        Map<String, Source> out = new LinkedHashMap<>();
        for (String key : originalKeys) {
            if (isIgnored(key)) continue;
            List<Rule> exact = tensorsByOriginal.get(key);
            if (exact != null) {
                for (Rule r : exact) put(out, r.diffusers, new Source(prefix + key, r.layout), prefix);
                continue;
            }
            Rule m = longest(modulesByOriginal, key);
            if (m == null) throw new WeightFormatException("no diffusers name for checkpoint key " + WeightFormatException.quote(prefix + key));
            put(out, m.diffusers + key.substring(m.original.length()), new Source(prefix + key, Layout.SAME), prefix);
        }
        return out;
    }

    private static void put(Map<String, Source> out, String diffusers, Source s, String prefix) {
        Source before = out.put(diffusers, s);
        if (before != null)
            throw new WeightFormatException("checkpoint keys " + WeightFormatException.quote(before.key()) + " and " + WeightFormatException.quote(s.key())
                    + " both map to " + WeightFormatException.quote(diffusers));
    }

    /** The original key and layout of diffusers key {@code key}; an error when no rule covers it. */
    public Source toOriginal(String key) {
        Source s = findOriginal(key);
        if (s == null) throw new WeightFormatException("no original-layout name for " + WeightFormatException.quote(key));
        return s;
    }

    /** The original key and layout of diffusers key {@code key}, or null when no rule covers it. */
    public Source findOriginal(String key) {
        Rule t = tensorsByDiffusers.get(key);
        if (t != null) return new Source(t.original, t.layout);
        Rule m = longest(modulesByDiffusers, key);
        return m == null ? null : new Source(m.original + key.substring(m.diffusers.length()), Layout.SAME);
    }

    /**
     * Every tensor of {@code diffusers} under its original name with {@code prefix} in front, in the original shape:
     * views where possible, packed q/k/v concatenated into new tensors of the same dtype.
     */
    public Map<String, Tensor> toOriginal(StateDict diffusers, String prefix) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        Map<String, Tensor[]> packed = new LinkedHashMap<>();
        for (String key : diffusers.keys()) {
            Source s = toOriginal(key);
            Tensor t = diffusers.get(key);
            switch (s.layout()) {
                case PACKED_Q, PACKED_K, PACKED_V -> {
                    packed.computeIfAbsent(s.key(), k -> new Tensor[3])[s.layout().ordinal() - Layout.PACKED_Q.ordinal()] = t;
                    out.put(prefix + s.key(), null);   // keeps the key's place in the order
                }
                default -> out.put(prefix + s.key(), s.layout().toOriginal(t));
            }
        }
        for (Map.Entry<String, Tensor[]> e : packed.entrySet()) {
            Tensor[] qkv = e.getValue();
            for (int i = 0; i < 3; i++)
                if (qkv[i] == null)
                    throw new WeightFormatException(diffusers.source() + ": " + "qkv".charAt(i) + " part of " + WeightFormatException.quote(prefix + e.getKey()) + " is missing");
            out.put(prefix + e.getKey(), concatRows(qkv, diffusers.source()));
        }
        return out;
    }

    /** {@code parts} stacked on dimension 0, in their common dtype. */
    private static Tensor concatRows(Tensor[] parts, String source) {
        int[] shape = parts[0].shape();
        int rows = 0;
        for (Tensor p : parts) {
            int[] s = p.shape();
            s[0] = shape[0];
            if (!Arrays.equals(s, shape) || p.dtype() != parts[0].dtype())
                throw new WeightFormatException(source + ": q, k and v projections differ in shape or dtype: " + parts[0] + ", " + p);
            rows += p.dim(0);
        }
        shape[0] = rows;
        Tensor out = Tensor.zeros(parts[0].dtype(), shape);
        long at = 0;
        for (Tensor p : parts) {
            Tensor c = p.contiguous();
            MemorySegment.copy(c.segment(), 0, out.segment(), at, c.byteSize());
            at += c.byteSize();
        }
        return out;
    }

    /** The rule whose name is the longest prefix of {@code key} ending at a '.' (or the whole key). */
    private static Rule longest(Map<String, Rule> rules, String key) {
        for (int end = key.length(); end > 0; end = key.lastIndexOf('.', end - 1)) {
            Rule r = rules.get(key.substring(0, end));
            if (r != null) return r;
        }
        return null;
    }

    private boolean isIgnored(String key) {
        for (String i : ignored) if (key.equals(i) || key.startsWith(i) && key.charAt(i.length()) == '.') return true;
        return false;
    }
}
