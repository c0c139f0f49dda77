package dev.tornadodiffusion.weights.torch;

import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.StateDict;
import dev.tornadodiffusion.weights.WeightFormatException;
import dev.tornadodiffusion.weights.torch.TorchPickle.Storage;
import dev.tornadodiffusion.weights.torch.TorchPickle.TensorRef;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.ListIterator;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * A PyTorch checkpoint (.pt / .pth / .ckpt, zip or legacy format) read without executing anything: the
 * pickle is interpreted by a restricted reader that accepts only the globals torch writes for tensors
 * and refuses every other one by name. Tensors are views of the memory-mapped file.
 *
 * <p>The state dict is the top-level dict, or its {@code "state_dict"} entry when it has one (Lightning and
 * LDM .ckpt files), with nested dicts flattened to dotted keys. Every other value (epoch, global_step,
 * hyper-parameters) is in {@link #objects()}.
 */
public final class TorchCheckpoint implements StateDict {
    /** Dicts nested deeper than this are not flattened. */
    static final int MAX_DEPTH = 64;

    /** What a container yields: the unpickled object, with {@link TensorRef}s, and the bytes of each storage. */
    record Contents(Object root, Map<Storage, MemorySegment> storages) { }

    private final String source;
    private final Arena arena;
    private final Map<String, Tensor> tensors;
    private final Map<String, Object> objects;

    private TorchCheckpoint(String source, Arena arena, Map<String, Tensor> tensors, Map<String, Object> objects) {
        this.source = source;
        this.arena = arena;
        this.tensors = Collections.unmodifiableMap(tensors);
        this.objects = Collections.unmodifiableMap(objects);
    }

    /**
     * Maps and reads {@code path}. A file that is not a torch checkpoint, is damaged, or whose pickle uses
     * anything but tensor-rebuild globals is refused with a {@link WeightFormatException} naming the problem.
     */
    public static TorchCheckpoint load(Path path) throws IOException {
        String source = path.toString();
        Arena arena = Arena.ofShared();
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            return read(source, channel, channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena), arena);
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** Reads the checkpoint whose bytes are {@code file}, also readable through {@code channel}; {@code arena} becomes the checkpoint's. */
    static TorchCheckpoint read(String source, SeekableByteChannel channel, MemorySegment file, Arena arena) {
        boolean zip = file.byteSize() >= 4 && file.get(ValueLayout.JAVA_INT_UNALIGNED, 0) == 0x04034b50;   // "PK\3\4"
        Contents contents = zip ? TorchZip.read(source, channel, file, arena) : TorchLegacy.read(source, file);
        Object root = withTensors(source, contents);
        Object weights = root instanceof Map<?, ?> m && m.get("state_dict") instanceof Map<?, ?> sd ? sd : root;
        if (!(weights instanceof Map<?, ?> dict))
            throw new WeightFormatException(source + ": holds " + Unpickler.typeName(root) + ", not a dict of tensors");
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        flattenTensors(source, "", dict, 0, tensors, identitySet());
        Map<String, Object> objects = new LinkedHashMap<>();
        if (root instanceof Map<?, ?> top) flattenObjects("", top, 0, objects, identitySet());
        return new TorchCheckpoint(source, arena, tensors, objects);
    }

    @Override public String source() { return source; }

    @Override public Set<String> keys() { return tensors.keySet(); }

    @Override
    public Tensor get(String key) {
        Tensor t = tensors.get(key);
        if (t == null) throw new WeightFormatException(source + ": no tensor '" + key + "'");
        return t;
    }

    /**
     * The values that are not tensors, by dotted key through nested dicts: Long / BigInteger, Double,
     * String, Boolean, byte[], null, Lists (tuples and lists, tensors in them included), Sets, and dicts
     * too deep or reachable twice.
     */
    public Map<String, Object> objects() { return objects; }

    /** Unmaps the file: tensors of this checkpoint must not be used afterwards. Closing twice does nothing. */
    @Override
    public void close() {
        if (arena.scope().isAlive()) arena.close();
    }

    /**
     * Replaces every {@link TensorRef} of the object graph, in place, by a view of its storage's bytes
     * (one Tensor per reference, so shared tensors stay shared). Walks without recursion: the graph can
     * be deep or contain itself.
     */
    private static Object withTensors(String source, Contents contents) {
        Map<TensorRef, Tensor> made = new IdentityHashMap<>();
        Function<TensorRef, Tensor> tensor = ref -> made.computeIfAbsent(ref, r -> {
            TorchPickle.StorageView view = r.view();
            Storage s = view.storage();
            return Tensor.asStrided(contents.storages().get(s), s.type().dtype(), r.size(), r.stride(), view.start() + r.offset());
        });
        Object root = contents.root();
        if (root instanceof TensorRef r) return tensor.apply(r);
        Set<Object> seen = identitySet();
        ArrayDeque<Object> todo = new ArrayDeque<>();
        if (root != null) todo.push(root);
        while (!todo.isEmpty()) {
            switch (todo.pop()) {
                case List<?> list -> {
                    @SuppressWarnings("unchecked") ListIterator<Object> it = (ListIterator<Object>) list.listIterator();
                    while (it.hasNext()) {
                        Object v = it.next();
                        if (v instanceof TensorRef r) it.set(tensor.apply(r));
                        else if (isContainer(v) && seen.add(v)) todo.push(v);
                    }
                }
                case Map<?, ?> map -> {
                    @SuppressWarnings("unchecked") Map<Object, Object> m = (Map<Object, Object>) map;
                    for (Map.Entry<Object, Object> e : m.entrySet()) {
                        if (e.getKey() instanceof TensorRef) throw new WeightFormatException(source + ": a tensor as dict key is not supported");
                        Object v = e.getValue();
                        if (v instanceof TensorRef r) e.setValue(tensor.apply(r));
                        else if (isContainer(v) && seen.add(v)) todo.push(v);
                    }
                }
                case Set<?> set -> {
                    for (Object v : set) if (v instanceof TensorRef) throw new WeightFormatException(source + ": a tensor in a set is not supported");
                }
                default -> { }
            }
        }
        return root;
    }

    private static boolean isContainer(Object o) {
        return o instanceof List<?> || o instanceof Map<?, ?> || o instanceof Set<?>;
    }

    private static void flattenTensors(String source, String prefix, Map<?, ?> dict, int depth, Map<String, Tensor> out, Set<Object> seen) {
        if (depth > MAX_DEPTH) throw new WeightFormatException(source + ": dict " + Unpickler.quote(prefix) + " is nested more than " + MAX_DEPTH + " levels deep");
        if (!seen.add(dict)) throw new WeightFormatException(source + ": dict " + Unpickler.quote(prefix) + " appears twice in the state dict");
        for (Map.Entry<?, ?> e : dict.entrySet()) {
            String key = key(prefix, e.getKey());
            if (key == null) continue;
            switch (e.getValue()) {
                case Tensor t -> {
                    if (out.putIfAbsent(key, t) != null) throw new WeightFormatException(source + ": tensor key " + Unpickler.quote(key) + " appears twice");
                }
                case Map<?, ?> m -> flattenTensors(source, key, m, depth + 1, out, seen);
                case null, default -> { }
            }
        }
    }

    private static void flattenObjects(String prefix, Map<?, ?> dict, int depth, Map<String, Object> out, Set<Object> seen) {
        for (Map.Entry<?, ?> e : dict.entrySet()) {
            String key = key(prefix, e.getKey());
            if (key == null) continue;
            switch (e.getValue()) {
                case Tensor _ -> { }
                case Map<?, ?> m when depth < MAX_DEPTH && seen.add(m) -> flattenObjects(key, m, depth + 1, out, seen);
                case null, default -> out.put(key, e.getValue());
            }
        }
    }

    /** The dotted key of a dict entry; null for keys that are not names (a class, a float). */
    private static String key(String prefix, Object key) {
        String name = switch (key) {
            case String s -> s;
            case Long l -> l.toString();
            case null, default -> null;
        };
        return name == null ? null : prefix.isEmpty() ? name : prefix + "." + name;
    }

    private static Set<Object> identitySet() {
        return Collections.newSetFromMap(new IdentityHashMap<>());
    }
}
