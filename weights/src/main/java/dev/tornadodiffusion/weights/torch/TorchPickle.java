package dev.tornadodiffusion.weights.torch;

import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.weights.WeightFormatException;

import java.nio.charset.StandardCharsets;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the names in a torch.save pickle may mean: an allow-list of the globals torch writes for weights
 * (collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_parameter, the typed storage
 * classes), plus torch dtypes and Lightning's ModelCheckpoint class as plain values and _codecs.encode
 * for bytes. Every other global is refused by name. Calling an allowed function only builds a
 * description ({@link TensorRef}); no torch code exists here to run. Storages are collected by key for
 * the container to attach their bytes.
 */
final class TorchPickle implements Unpickler.Resolver {

    /** The callables of the allow-list. */
    enum Function {
        ORDERED_DICT("collections.OrderedDict"),
        REBUILD_TENSOR_V2("torch._utils._rebuild_tensor_v2"),
        REBUILD_PARAMETER("torch._utils._rebuild_parameter"),
        REBUILD_PARAMETER_WITH_STATE("torch._utils._rebuild_parameter_with_state"),
        /** How protocol 2 writes a bytes object: _codecs.encode(latin-1 text, 'latin1'). */
        CODECS_ENCODE("_codecs.encode");

        final String global;

        Function(String global) { this.global = global; }

        @Override public String toString() { return global; }
    }

    /** torch.FloatStorage and friends: only ever a tag in a persistent id. */
    record StorageType(String name, DType dtype) {
        @Override public String toString() { return "torch." + name; }
    }

    /**
     * A global that may appear as a plain value but never be called: Lightning checkpoints written by
     * PyTorch Lightning 1.x (the original SD 1.x .ckpt files) key their callback state by this class.
     */
    record ClassName(String global) {
        @Override public String toString() { return global; }
    }

    /** One storage of the file: zip record {@code data/<key>}, or the legacy storage {@code key}. */
    record Storage(String key, StorageType type, long numel) { }

    /** What a persistent id stands for: elements {@code start .. start+numel-1} of a storage (legacy files may pickle views). */
    record StorageView(Storage storage, long start, long numel) {
        @Override public String toString() { return "storage"; }
    }

    /** A tensor as torch rebuilds it: {@code storage.as_strided(size, stride, offset)}, checked to lie inside its storage. */
    record TensorRef(StorageView view, long offset, int[] size, long[] stride) {
        @Override public String toString() { return "tensor"; }
    }

    private static final Map<String, DType> STORAGES = Map.of(
            "FloatStorage", DType.F32, "HalfStorage", DType.F16, "BFloat16Storage", DType.BF16, "DoubleStorage", DType.F64,
            "LongStorage", DType.I64, "IntStorage", DType.I32, "ShortStorage", DType.I16, "CharStorage", DType.I8,
            "ByteStorage", DType.U8, "BoolStorage", DType.BOOL);

    private static final Map<String, DType> DTYPES = Map.ofEntries(
            Map.entry("float32", DType.F32), Map.entry("float", DType.F32), Map.entry("float16", DType.F16), Map.entry("half", DType.F16),
            Map.entry("bfloat16", DType.BF16), Map.entry("float64", DType.F64), Map.entry("double", DType.F64),
            Map.entry("int64", DType.I64), Map.entry("long", DType.I64), Map.entry("int32", DType.I32), Map.entry("int", DType.I32),
            Map.entry("int16", DType.I16), Map.entry("short", DType.I16), Map.entry("int8", DType.I8), Map.entry("uint8", DType.U8),
            Map.entry("bool", DType.BOOL));

    private static final String LIGHTNING_MODEL_CHECKPOINT = "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint";

    private final String source;
    private final Map<String, Storage> storages = new LinkedHashMap<>();

    TorchPickle(String source) { this.source = source; }

    /** The storages the persistent ids referred to, by key, in first-use order. */
    Map<String, Storage> storages() { return storages; }

    @Override
    public Object global(String module, String name) {
        String global = module + "." + name;
        for (Function f : Function.values()) if (f.global.equals(global)) return f;
        if (module.equals("torch") && STORAGES.containsKey(name)) return new StorageType(name, STORAGES.get(name));
        if (module.equals("torch") && DTYPES.containsKey(name)) return DTYPES.get(name);
        if (global.equals(LIGHTNING_MODEL_CHECKPOINT)) return new ClassName(global);
        throw fail("refused pickle global " + Unpickler.quote(global) + " (only tensor-rebuild functions are allowed)");
    }

    @Override
    public Object call(Object callable, List<Object> args) {
        if (!(callable instanceof Function f)) throw fail("refused call of " + Unpickler.typeName(callable) + " (only tensor-rebuild functions may be called)");
        return switch (f) {
            case ORDERED_DICT -> newObject(f, args);
            case REBUILD_TENSOR_V2 -> rebuildTensor(args);
            case REBUILD_PARAMETER, REBUILD_PARAMETER_WITH_STATE -> {
                arity(f, args, f == Function.REBUILD_PARAMETER ? 3 : 4, 4);
                if (!(args.getFirst() instanceof TensorRef t)) throw fail(f + " of " + Unpickler.typeName(args.getFirst()) + ", not a tensor");
                yield t;   // an nn.Parameter is its data; requires_grad, hooks and state do not matter for inference
            }
            case CODECS_ENCODE -> {
                arity(f, args, 2, 2);
                if (!(args.get(0) instanceof String text && args.get(1) instanceof String encoding
                        && (encoding.equals("latin1") || encoding.equals("latin-1")) && text.chars().allMatch(c -> c < 256)))
                    throw fail("unsupported arguments for " + f + " (only latin-1 text is)");
                yield text.getBytes(StandardCharsets.ISO_8859_1);
            }
        };
    }

    @Override
    public Object newObject(Object cls, List<Object> args) {
        if (cls != Function.ORDERED_DICT) throw fail("refused instantiation of " + Unpickler.typeName(cls));
        if (!args.isEmpty()) throw fail("unsupported arguments for collections.OrderedDict");
        return new LinkedHashMap<>();
    }

    @Override
    public Object build(Object object, Object state) {
        // BUILD on a dict sets attributes (state_dict()'s _metadata), not items: nothing a weight needs
        if (object instanceof Map<?, ?>) return object;
        throw fail("refused BUILD of " + Unpickler.typeName(object));
    }

    /**
     * ('storage', StorageType, key, location, numel) in zip files; legacy files add view metadata:
     * None or (view_key, offset, numel) for a view of the storage.
     */
    @Override
    public Object persistentLoad(Object pid) {
        if (pid instanceof List<?> t && !t.isEmpty() && "module".equals(t.getFirst()))
            throw fail("pickled nn.Module objects are not supported (save model.state_dict() instead)");
        if (!(pid instanceof List<?> t && (t.size() == 5 || t.size() == 6) && "storage".equals(t.getFirst())
                && t.get(1) instanceof StorageType type && t.get(2) instanceof String key && t.get(4) instanceof Long numel))
            throw fail("unsupported persistent id (expected ('storage', <type>, key, location, numel))");
        if (key.length() > 256) throw fail("storage key of " + key.length() + " characters");
        if (numel < 0 || numel > Long.MAX_VALUE / 8) throw fail("storage " + Unpickler.quote(key) + " has " + numel + " elements");
        Storage s = storages.computeIfAbsent(key, k -> new Storage(k, type, numel));
        if (!s.equals(new Storage(key, type, numel)))
            throw fail("storage " + Unpickler.quote(key) + " is declared as " + s.type() + " of " + s.numel() + " elements and as " + type + " of " + numel);
        Object view = t.size() == 6 ? t.get(5) : null;
        if (view == null) return new StorageView(s, 0, numel);
        if (!(view instanceof List<?> v && v.size() == 3 && v.get(1) instanceof Long start && v.get(2) instanceof Long count
                && start >= 0 && count >= 0 && start <= numel - count))
            throw fail("storage " + Unpickler.quote(key) + " has a bad view (expected (view_key, offset, numel) inside its " + numel + " elements)");
        return new StorageView(s, start, count);
    }

    /** _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]). */
    private TensorRef rebuildTensor(List<Object> args) {
        Function f = Function.REBUILD_TENSOR_V2;
        arity(f, args, 6, 7);
        if (!(args.get(0) instanceof StorageView view && args.get(1) instanceof Long offset && args.get(2) instanceof List<?> sizes
                && args.get(3) instanceof List<?> strides && sizes.size() == strides.size()))
            throw fail("unsupported arguments for " + f + " (expected storage, offset, size tuple, stride tuple)");
        int[] size = new int[sizes.size()];
        long[] stride = new long[sizes.size()];
        for (int i = 0; i < size.length; i++) {
            if (!(sizes.get(i) instanceof Long n && n >= 0 && n <= Integer.MAX_VALUE && strides.get(i) instanceof Long s && s >= 0 && s <= Long.MAX_VALUE / 8))
                throw fail("tensor size " + describe(sizes) + " / stride " + describe(strides) + " is not supported");
            size[i] = (int) (long) n;
            stride[i] = s;
        }
        Storage s = view.storage();
        if (offset < 0 || lastElement(offset, size, stride) >= view.numel())
            throw fail("tensor of size " + describe(sizes) + ", stride " + describe(strides) + ", offset " + offset + " lies outside its storage "
                    + Unpickler.quote(s.key()) + " (" + s.type() + " of " + view.numel() + " elements)");
        return new TensorRef(view, offset, size, stride);
    }

    /** The highest storage element a view reaches: -1 when it has no elements, Long.MAX_VALUE past the long range. */
    private static long lastElement(long offset, int[] size, long[] stride) {
        long last = offset;
        try {
            for (int i = 0; i < size.length; i++) {
                if (size[i] == 0) return -1;
                last = Math.addExact(last, Math.multiplyExact(size[i] - 1L, stride[i]));
            }
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
        return last;
    }

    /** A size or stride tuple for a message (the first few entries: a hostile one may be huge). */
    private static String describe(Collection<?> values) {
        StringBuilder sb = new StringBuilder("(");
        int shown = 0;
        for (Object v : values) {
            if (shown++ == 8) { sb.append(", ..."); break; }
            sb.append(shown > 1 ? ", " : "").append(v instanceof Long ? v : Unpickler.typeName(v));
        }
        return sb.append(")").toString();
    }

    private void arity(Function f, List<Object> args, int min, int max) {
        if (args.size() < min || args.size() > max) throw fail(f + " called with " + args.size() + " arguments");
    }

    private WeightFormatException fail(String problem) {
        return new WeightFormatException(source + ": " + problem);
    }
}
