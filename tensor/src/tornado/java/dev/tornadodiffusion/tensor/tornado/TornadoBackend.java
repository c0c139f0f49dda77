package dev.tornadodiffusion.tensor.tornado;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.TornadoVMBackendType;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * The TornadoVM backend: every operation is a Java kernel that TornadoVM compiles for the device.
 *
 * <p>Inside {@link #runAll} (record and replay) the operations of a model's forward pass are recorded into one
 * execution plan (a chain of task graphs, see {@link Plan}): the first call at given input shapes runs the model
 * code twice to record (the second run tells
 * the memory that changes from call to call, like inputs and tensors the model makes on the fly, from weights),
 * builds the plan and executes it; later calls run the model code again only to match its operations against
 * the recording and bind the new inputs, then execute the plan: weights stay on the device, intermediates never
 * leave it, only the results come back. Outside {@link #runAll} each operation runs at once in a small plan of
 * its own, cached by operation, shapes and weights (eager mode).
 */
public final class TornadoBackend implements Backend {
    private static final int EAGER_PLANS = 512;

    final Launch launch;
    final Constants constants = new Constants();
    private final String deviceName;
    private final long deviceMemory;        // the device's global memory
    private final boolean cudaGraphs;       // capture recorded plans as CUDA graphs (PTX devices, tornado.properties cuda.graph)
    private long planBytes;                 // device memory of the plans admitted so far and not closed
    private Recording recording;            // set while a forward pass is recorded, by the thread in runAll
    private Recording.Replay replay;        // set while one is replayed
    private volatile Thread runner;         // that thread: ops of other threads run eagerly (after it)
    private final Map<RunKey, Recording> plans = new HashMap<>();
    private final Set<RunKey> unrecordable = new HashSet<>();
    private final Map<EagerKey, Recording> eager = new LinkedHashMap<>(16, 0.75f, true);

    private record RunKey(Object model, Class<?> forward, List<String> inputs) {
        @Override public boolean equals(Object o) { return o instanceof RunKey k && model == k.model && forward == k.forward && inputs.equals(k.inputs); }

        @Override public int hashCode() { return System.identityHashCode(model) * 31 + forward.hashCode() * 7 + inputs.hashCode(); }
    }

    private record EagerKey(String signature, List<Recording.LeafKey> constants) {}

    /** Whether the device stores and converts half floats; then F16 weights are HalfFloatArrays (see {@link #halfStorage}). */
    final boolean fp16;
    /** tornado.properties {@code weights.fp16} on a device with fp16: F32 GEMM and convolution weights are stored as fp16 too. */
    final boolean halfF32;

    /** Made once per JVM by {@link TornadoBackendProvider}, after TornadoVM was found to work. */
    TornadoBackend() {
        TornadoSettings.get();
        TornadoDevice device = TornadoExecutionPlan.DEFAULT_DEVICE;
        this.deviceName = device.getDeviceName();
        this.deviceMemory = device.getMaxGlobalMemory();
        this.cudaGraphs = device.getTornadoVMBackend() == TornadoVMBackendType.PTX && TornadoSettings.flag("cuda.graph");
        this.fp16 = TornadoDevices.fp16(device);
        this.halfF32 = TornadoSettings.flag("weights.fp16") && fp16;
        if (TornadoSettings.flag("weights.fp16") && !fp16)
            System.err.println("tornado: weights.fp16 is set but " + deviceName + " reports no fp16 support (OpenCL cl_khr_fp16): F32 weights stay F32");
        this.launch = TornadoSettings.launch(switch (device.getDeviceType()) {
            case GPU -> "gpu";
            case CPU -> "cpu";
            default -> "accelerator";
        });
    }

    /** Whether a weight is stored as fp16 on the device: a 16-bit GEMM/convolution weight (not BF16) on a device with fp16. */
    boolean halfStorage(Leaf l) {
        return fp16 && l.raw16 && l.storage.dtype() != dev.tornadodiffusion.tensor.DType.BF16;
    }

    @Override public String name() { return "tornado"; }

    /** Forward passes recorded (and kept for replay). */
    synchronized int recordedPlans() { return plans.size(); }

    /** Host<->device copies of every plan execution so far ({@code -Dtd.tornado.stats} prints them). */
    public Transfers.Totals transfers() { return Transfers.totals(); }

    /** One-op plans of eager mode. */
    synchronized int eagerPlans() { return eager.size(); }

    // ---- record and replay

    @Override
    public synchronized Tensor[] runAll(Object model, Function<Tensor[], Tensor[]> forward, Tensor... inputs) {
        if (runner == Thread.currentThread()) return forward.apply(inputs);   // nested: part of the pass being run
        List<String> shapes = new ArrayList<>();
        for (Tensor t : inputs) shapes.add(t.dtype() + Arrays.toString(t.shape()));
        RunKey key = new RunKey(model, forward.getClass(), shapes);
        if (unrecordable.contains(key)) return forward.apply(inputs);
        Recording rec = plans.get(key);
        if (rec != null) {
            try {
                return replay(rec, forward, inputs);
            } catch (Recording.Mismatch m) {
                System.err.println("tornado: " + model.getClass().getSimpleName() + " no longer matches its recorded plan (" + m.getMessage() + "); recording again");
                plans.remove(key);
                closePlan(rec);
            }
        }
        rec = null;
        try {
            long t0 = System.nanoTime();
            Recording first = new Recording(this, Plan.nextName());
            record(first, forward, inputs);
            rec = new Recording(this, Plan.nextName());
            Tensor[] results = record(rec, forward, inputs);
            rec.classify(first, inputs);
            rec.build(valuesOf(results), launch);
            rec.plan.label = model.getClass().getSimpleName() + " " + rec.name;
            admit(rec);
            // replays launch the step's kernels as one captured graph instead of one by one (not yet run on a GPU)
            if (cudaGraphs) rec.plan.execution.withCUDAGraph();
            Tensor[] out = rec.execute(rec.recordedBindings(), results);
            plans.put(key, rec);
            System.err.printf("tornado: recorded %s on %s: %d ops -> %d tasks, %.1f MB constants, %.1f MB activations, %.1f MB device memory; record, compile and first run %.1f s%n",
                    model.getClass().getSimpleName(), deviceName, rec.entries.size(), rec.plan.tasks, rec.plan.constantBytes / 1e6, rec.plan.poolBytes / 1e6,
                    rec.plan.deviceBytes / 1e6, (System.nanoTime() - t0) / 1e9);
            return out;
        } catch (IllegalStateException e) {
            if (rec != null && !plans.containsValue(rec)) closePlan(rec);
            System.err.println("tornado: cannot record " + model.getClass().getSimpleName() + " (" + e.getMessage() + "); running it operation by operation");
            unrecordable.add(key);
            return forward.apply(inputs);
        }
    }

    private Tensor[] record(Recording rec, Function<Tensor[], Tensor[]> forward, Tensor[] inputs) {
        recording = rec;
        runner = Thread.currentThread();
        try {
            return finishResults(forward.apply(inputs));
        } finally {
            recording = null;
            runner = null;
        }
    }

    private Tensor[] replay(Recording rec, Function<Tensor[], Tensor[]> forward, Tensor[] inputs) {
        Recording.Replay r = rec.new Replay();
        replay = r;
        runner = Thread.currentThread();
        Tensor[] results;
        try {
            results = finishResults(forward.apply(inputs));
            r.finish();
        } catch (IllegalStateException e) {
            throw new Recording.Mismatch(e.getMessage());
        } finally {
            replay = null;
            runner = null;
        }
        for (Tensor t : results)
            if (t.pending() instanceof Value v && !rec.results.contains(v)) throw new Recording.Mismatch("the forward pass returns a value it did not return when recorded");
        return rec.execute(r.bindings, results);
    }

    /** Results that are strided views of device values become dense values (one more recorded copy). */
    private Tensor[] finishResults(Tensor[] results) {
        Tensor[] out = results.clone();
        for (int i = 0; i < out.length; i++) {
            Tensor t = out[i];
            if (t.pending() instanceof Value v && !(t.offset() == 0 && t.isContiguous() && t.numel() == v.numel())) out[i] = contiguous(t);
        }
        return out;
    }

    private static List<Value> valuesOf(Tensor[] results) {
        List<Value> vs = new ArrayList<>();
        for (Tensor t : results) if (t.pending() instanceof Value v) vs.add(v);
        return vs;
    }

    /** Hands {@code op} to the recording, the replay, or runs it now (eager). */
    private Tensor emit(Op op, int[] shape) {
        if (runner == Thread.currentThread()) return recording != null ? recording.append(op, shape) : replay.match(op, shape);
        return eager(op, shape);
    }

    /**
     * Runs one op in its own plan. Heap memory is per-call data (activations, inputs); native memory (memory-mapped
     * weights) is constant and identifies the plan, so each weight is uploaded once.
     */
    private synchronized Tensor eager(Op op, int[] shape) {
        List<Recording.LeafKey> constants = new ArrayList<>();
        for (Ref r : op.operands()) {
            if (r == null) continue;
            if (r.isValue()) throw new IllegalStateException("a device tensor of a finished forward pass was used outside it: " + r.value.tensor);
            if (!r.storage.heap()) constants.add(new Recording.LeafKey(r.storage, r.raw16));
        }
        EagerKey key = new EagerKey(op.signature(shape), constants);
        Recording rec = eager.get(key);
        Map<Leaf, Tensor> bindings = new HashMap<>();
        if (rec == null) {
            rec = new Recording(this, Plan.nextName());
            Tensor result = rec.append(op, shape);
            for (Leaf l : rec.leaves.values()) l.perCall = l.storage.heap();
            rec.build(List.of(op.out), launch);
            rec.plan.label = "eager " + op.getClass().getSimpleName() + " " + rec.name;
            if (eager.size() >= EAGER_PLANS) evictOldestEager();
            try {
                admit(rec);
            } catch (IllegalStateException e) {
                rec.close();
                throw e;
            }
            eager.put(key, rec);
            bindings = rec.recordedBindings();
            return rec.execute(bindings, new Tensor[]{result})[0];
        }
        Recording.Entry e = rec.entries.getFirst();
        Ref[] now = op.operands();
        for (int j = 0; j < now.length; j++) if (now[j] != null && e.operands()[j].leaf.perCall) bindings.put(e.operands()[j].leaf, now[j].host);
        return rec.execute(bindings, new Tensor[]{e.out().tensor})[0];
    }

    // ---- device memory

    /**
     * Counts a built plan's device memory against the device's, making room by closing one-op plans of eager mode
     * (oldest first). TornadoVM's own counter (tornado.device.memory) is set out of the way by
     * {@link TornadoSettings}, so this is the check: a plan that does not fit is an error before any allocation
     * (the caller closes it).
     */
    private void admit(Recording rec) {
        long need = rec.plan.deviceBytes;
        while (planBytes + need > deviceMemory && !eager.isEmpty()) evictOldestEager();
        if (planBytes + need > deviceMemory) {
            throw new IllegalStateException(String.format(java.util.Locale.ROOT, "the plan needs %.2f GB of device memory; %s has %.2f GB, of which %.2f GB are held by %d recorded plans",
                    need / 1e9, deviceName, deviceMemory / 1e9, planBytes / 1e9, plans.size()));
        }
        planBytes += need;
        rec.admittedBytes = need;
    }

    private void evictOldestEager() {
        var oldest = eager.entrySet().iterator().next();
        eager.remove(oldest.getKey());
        closePlan(oldest.getValue());
    }

    private void closePlan(Recording rec) {
        planBytes -= rec.admittedBytes;
        rec.admittedBytes = 0;
        rec.close();
    }

    // ---- operand helpers

    /** A ref to a dense copy of {@code t}, made on the device (recorded like any other op). */
    private Ref gathered(Tensor t) {
        return Ref.of(emit(new Op.Copy(0, Ref.of(t, false)), t.shape()), false);
    }

    private Ref denseRef(Tensor t) {
        Ref r = Ref.of(t, false);
        return r.dense() ? r : gathered(t);
    }

    /** {@code t} [..., rows, cols] broadcast to {@code batch} as a [B, rows, cols] view, gathered if its batch dims do not merge. */
    private Ref batched(Tensor t, int[] batch, boolean raw16) {
        int r = t.rank();
        int[] s = t.shape();
        long[] st = t.strides();
        long[] lead = Views.broadcastStrides(Arrays.copyOf(s, r - 2), Arrays.copyOf(st, r - 2), batch);
        long[][] c = Views.coalesce(batch, lead);
        int b = (int) Tensor.numel(batch);
        if (c[0].length == 1) return Ref.of(t, raw16).view(0, new int[]{b, s[r - 2], s[r - 1]}, new long[]{b == 1 ? 0 : c[1][0], st[r - 2], st[r - 1]});
        int[] full = Arrays.copyOf(batch, batch.length + 2);
        full[batch.length] = s[r - 2];
        full[batch.length + 1] = s[r - 1];
        long[] fst = Arrays.copyOf(lead, lead.length + 2);
        fst[lead.length] = st[r - 2];
        fst[lead.length + 1] = st[r - 1];
        Tensor dense = emit(new Op.Copy(0, Ref.of(t, false).view(0, full, fst)), full);
        return Ref.of(dense, false).view(0, new int[]{b, s[r - 2], s[r - 1]}, new long[]{(long) s[r - 2] * s[r - 1], s[r - 1], 1});
    }

    /** {@code t} as [rows, d] rows with unit inner stride and one row stride, gathered if it is not. */
    private Ref rows(Tensor t) {
        int d = t.dim(-1), rows = (int) (t.numel() / d);
        Ref r = Ref.of(t, false);
        long[][] c = Views.coalesce(Arrays.copyOf(r.shape, r.shape.length - 1), Arrays.copyOf(r.strides, r.strides.length - 1));
        boolean ok = (d == 1 || r.strides[r.strides.length - 1] == 1) && c[0].length == 1;
        if (!ok) r = gathered(t);
        long rs = ok && rows > 1 ? c[1][0] : d;
        return r.view(0, new int[]{rows, d}, new long[]{rs, 1});
    }

    /** A 1-D weight (bias, norm scale) as a dense ref, or null. */
    private Ref vector(Tensor t) {
        return t == null ? null : denseRef(t);
    }

    private static void check(boolean ok, String message) {
        if (!ok) throw new IllegalArgumentException(message);
    }

    // ---- matrix products

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        check(a.rank() >= 2 && b.rank() >= 2, "matmul needs rank >= 2: " + a + " @ " + b);
        int m = a.dim(-2), k = a.dim(-1), n = b.dim(-1);
        check(b.dim(-2) == k, "matmul shapes " + Arrays.toString(a.shape()) + " @ " + Arrays.toString(b.shape()));
        int[] batch = Backend.broadcastShape(Arrays.copyOf(a.shape(), a.rank() - 2), Arrays.copyOf(b.shape(), b.rank() - 2));
        int[] out = Arrays.copyOf(batch, batch.length + 2);
        out[batch.length] = m;
        out[batch.length + 1] = n;
        return emit(new Op.MatMul(batched(a, batch, false), batched(b, batch, true), null), out);
    }

    @Override
    public Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        int in = x.dim(-1), outF = weight.dim(0);
        check(weight.rank() == 2 && weight.dim(1) == in, "linear: input " + Arrays.toString(x.shape()) + " vs weight " + Arrays.toString(weight.shape()));
        check(bias == null || bias.numel() == outF, "linear: bias " + bias + " for " + outF + " outputs");
        int[] shape = x.shape();
        shape[shape.length - 1] = outF;
        Ref rx = rows(x);
        Ref a = rx.view(0, new int[]{1, rx.shape[0], in}, new long[]{0, rx.strides[0], 1});
        Ref w = Ref.weight(weight, halfF32);
        Ref b = w.view(0, new int[]{1, in, outF}, new long[]{0, w.strides[1], w.strides[0]});
        return emit(new Op.MatMul(a, b, vector(bias)), shape);
    }

    @Override
    public Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int stride, int padding, int groups) {
        check(x.rank() == 4 && weight.rank() == 4, "conv2d needs NCHW input and 4-D weight: " + x + ", " + weight);
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        int oc = weight.dim(0), icg = weight.dim(1), kh = weight.dim(2), kw = weight.dim(3);
        check(c % groups == 0 && oc % groups == 0 && icg == c / groups,
                "conv2d: input " + Arrays.toString(x.shape()) + " vs weight " + Arrays.toString(weight.shape()) + " groups " + groups);
        check(bias == null || bias.numel() == oc, "conv2d: bias " + bias + " for " + oc + " channels");
        int oh = (h + 2 * padding - kh) / stride + 1, ow = (w + 2 * padding - kw) / stride + 1;
        check(oh > 0 && ow > 0, "conv2d: kernel " + kh + "x" + kw + " larger than padded input " + Arrays.toString(x.shape()));
        boolean depthwise = icg == 1 && groups > 1;
        Ref wr = depthwise ? Ref.of(weight, false) : Ref.weight(weight, halfF32);
        return emit(new Op.Conv(denseRef(x), wr.dense() ? wr : gathered(weight), vector(bias), stride, padding, groups), new int[]{n, oc, oh, ow});
    }

    @Override
    public Tensor pad2d(Tensor x, int left, int right, int top, int bottom) {
        check(x.rank() >= 2 && left >= 0 && right >= 0 && top >= 0 && bottom >= 0, "pad2d of " + x + " by " + left + "," + right + "," + top + "," + bottom);
        int[] s = x.shape();
        s[s.length - 2] += top + bottom;
        s[s.length - 1] += left + right;
        return emit(new Op.Pad(denseRef(x), left, right, top, bottom), s);
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, boolean causal) {
        check(q.rank() == 3 && k.rank() == 3 && v.rank() == 3, "attention needs [B, N, H*D] tensors: " + q + " " + k + " " + v);
        int b = q.dim(0), nq = q.dim(1), nk = k.dim(1);
        check(k.dim(0) == b && v.dim(0) == b && v.dim(1) == nk && k.dim(2) == q.dim(2) && q.dim(2) % heads == 0 && v.dim(2) % heads == 0,
                "attention shapes q" + Arrays.toString(q.shape()) + " k" + Arrays.toString(k.shape()) + " v" + Arrays.toString(v.shape()) + " heads " + heads);
        return emit(new Op.Attend(tokens(q), tokens(k), tokens(v), heads, causal), new int[]{b, nq, v.dim(2)});
    }

    /** A [B, N, C] view with unit channel stride, gathered if needed. */
    private Ref tokens(Tensor t) {
        Ref r = Ref.of(t, false);
        return r.strides[2] == 1 || r.shape[2] == 1 ? r : gathered(t);
    }

    // ---- normalisation

    @Override
    public Tensor groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, float eps, boolean silu) {
        check(x.rank() >= 2 && x.dim(1) % groups == 0, "group norm: " + Arrays.toString(x.shape()) + " in " + groups + " groups");
        return emit(new Op.GroupNorm(denseRef(x), vector(weight), vector(bias), groups, eps, silu, launch), x.shape());
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, float eps) {
        return emit(new Op.RowNorm(rows(x), vector(weight), vector(bias), eps, false), x.shape());
    }

    @Override
    public Tensor softmax(Tensor x) {
        return emit(new Op.RowNorm(rows(x), null, null, 0f, true), x.shape());
    }

    // ---- element-wise

    private Tensor unary(Tensor x, int op, float scale) {
        return emit(unaryOp(x, op, scale), x.shape());
    }

    private Op.Map unaryOp(Tensor x, int op, float scale) {
        Op.Map m = new Op.Map(Ref.of(x, false), null, Elementwise.code(Elementwise.ID, Elementwise.FIRST, op), scale);
        return mapShape(m, x.shape()) != null ? m : new Op.Map(gathered(x), null, m.code, scale);
    }

    private Tensor binary(Tensor a, Tensor b, int op) {
        int[] shape = Backend.broadcastShape(a.shape(), b.shape());
        Ref ra = Ref.of(a, false), rb = Ref.of(b, false);
        Ref va = ra.view(0, shape, Views.broadcastStrides(ra.shape, ra.strides, shape));
        Ref vb = rb.view(0, shape, Views.broadcastStrides(rb.shape, rb.strides, shape));
        Op.Map m = new Op.Map(va, vb, Elementwise.code(Elementwise.ID, op, Elementwise.ID), 1f);
        if (mapShape(m, shape) == null) {
            // more than four distinct strides: materialise both operands densely
            Ref da = Ref.of(emit(new Op.Copy(0, va), shape), false), db = Ref.of(emit(new Op.Copy(0, vb), shape), false);
            m = new Op.Map(da, db, m.code, 1f);
        }
        return emit(m, shape);
    }

    /** The map's 4-D geometry for {@code shape}, or null if its operands need more dimensions. */
    private static long[][] mapShape(Op.Map m, int[] shape) {
        long[] bs = m.b == null ? new long[shape.length] : m.b.strides;
        long[][] c = Views.coalesce(shape, Views.dense(shape), m.a.strides, bs);
        return c[0].length > 4 ? null : c;
    }

    @Override public Tensor silu(Tensor x) { return unary(x, Elementwise.SILU, 1f); }

    @Override public Tensor gelu(Tensor x) { return unary(x, Elementwise.GELU, 1f); }

    @Override public Tensor geluTanh(Tensor x) { return unary(x, Elementwise.GELU_TANH, 1f); }

    @Override public Tensor quickGelu(Tensor x) { return unary(x, Elementwise.QUICK_GELU, 1f); }

    @Override public Tensor exp(Tensor x) { return unary(x, Elementwise.EXP, 1f); }

    @Override public Tensor sin(Tensor x) { return unary(x, Elementwise.SIN, 1f); }

    @Override public Tensor cos(Tensor x) { return unary(x, Elementwise.COS, 1f); }

    @Override
    public Tensor clamp(Tensor x, float lo, float hi) {
        Op.Map m = unaryOp(x, Elementwise.CLAMP, 1f);
        m.lo = lo;
        m.hi = hi;
        return emit(m, x.shape());
    }

    @Override public Tensor add(Tensor a, Tensor b) { return binary(a, b, Elementwise.ADD); }

    @Override public Tensor sub(Tensor a, Tensor b) { return binary(a, b, Elementwise.SUB); }

    @Override public Tensor mul(Tensor a, Tensor b) { return binary(a, b, Elementwise.MUL); }

    @Override public Tensor scale(Tensor x, float s) { return unary(x, Elementwise.ID, s); }

    // ---- layout

    @Override
    public Tensor contiguous(Tensor x) {
        if (x.pending() == null) return x.contiguous();
        Ref r = Ref.of(x, false);
        return emit(new Op.Copy(0, r), x.shape());
    }

    @Override
    public Tensor concat(int dim, Tensor... xs) {
        int rank = xs[0].rank();
        int d = dim < 0 ? dim + rank : dim;
        int[] shape = xs[0].shape();
        int total = 0;
        Ref[] pieces = new Ref[xs.length];
        for (int i = 0; i < xs.length; i++) {
            int[] s = xs[i].shape();
            check(s.length == rank, "concat of different ranks");
            for (int j = 0; j < rank; j++)
                check(j == d || s[j] == shape[j], "concat along " + d + " of " + Arrays.toString(shape) + " and " + Arrays.toString(s));
            total += s[d];
            pieces[i] = Ref.of(xs[i], false);
        }
        shape[d] = total;
        return emit(new Op.Copy(d, pieces), shape);
    }

    @Override
    public Tensor embedding(Tensor table, Tensor ids) {
        check(table.rank() == 2, "embedding table must be [V, D], got " + table);
        int n = (int) ids.numel();
        Ref r = Ref.of(ids, false);
        long[][] c = Views.coalesce(r.shape, r.strides);
        if (c[0].length != 1) r = gathered(ids);
        long stride = n == 1 ? 0 : (c[0].length == 1 ? c[1][0] : 1);
        int[] shape = Arrays.copyOf(ids.shape(), ids.rank() + 1);
        shape[ids.rank()] = table.dim(1);
        return emit(new Op.Gather(Ref.of(table, true), r.view(0, new int[]{n}, new long[]{stride})), shape);
    }

    @Override
    public Tensor upsampleNearest2x(Tensor x) {
        int[] s = x.shape();
        int r = s.length, h = s[r - 2], w = s[r - 1];
        int planes = (int) (x.numel() / ((long) h * w));
        Ref src = Ref.of(x, false);
        long[][] c = Views.coalesce(Arrays.copyOf(s, r - 2), Arrays.copyOf(src.strides, r - 2));
        if (c[0].length != 1) src = gathered(x);
        long ps = c[0].length == 1 ? c[1][0] : (long) h * w, hs = src.strides[r - 2], ws = src.strides[r - 1];
        // out[p, y, i, x, j] = x[p, y, x] for the 2x2 copies i, j: one strided copy with zero strides
        Ref view = src.view(0, new int[]{planes, h, 2, w, 2}, new long[]{ps, hs, 0, ws, 0});
        s[r - 2] = 2 * h;
        s[r - 1] = 2 * w;
        return emit(new Op.Copy(0, view), s);
    }

    @Override
    public Tensor timestepEmbedding(Tensor timesteps, int dim, boolean flipSinToCos, float downscaleFreqShift, float scale, float maxPeriod) {
        int n = (int) timesteps.numel();
        float[] freqs = Backend.timestepFrequencies(dim, downscaleFreqShift, maxPeriod);
        Ref t = Ref.of(timesteps, false);
        long[][] c = Views.coalesce(t.shape, t.strides);
        if (c[0].length != 1) t = gathered(timesteps);
        long stride = n == 1 ? 0 : (c[0].length == 1 ? c[1][0] : 1);
        return emit(new Op.Timestep(t.view(0, new int[]{n}, new long[]{stride}), dim, flipSinToCos, scale, freqs), new int[]{n, dim});
    }
}
