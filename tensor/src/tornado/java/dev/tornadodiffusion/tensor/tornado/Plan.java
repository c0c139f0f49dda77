package dev.tornadodiffusion.tensor.tornado;

import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.ImmutableTaskGraph;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.exceptions.TornadoExecutionPlanException;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.api.types.arrays.ShortArray;
import uk.ac.manchester.tornado.api.types.arrays.TornadoNativeArray;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The TornadoVM execution plan of a recording: constants (weights, kernel geometry) copied on the first execution
 * only, per-call host data on every execution, intermediates in a pool of device buffers that values with disjoint
 * lifetimes share, and only the results copied back.
 *
 * <p>TornadoVM 5.2 caps a task graph: its task list lives in a fixed 8 KB buffer (15 + 5 bytes per argument per
 * task) and its dependency graph in a fixed array of 1024 nodes (about 25 per task here). So a model's ops are
 * split into a chain of task graphs in one plan, executed one after the other. A buffer that
 * a later graph needs stays on the device: each graph persists it and the next consumes it (TornadoVM hands
 * buffers over only from the graph executed just before).
 */
final class Plan implements AutoCloseable {
    /** Tasks per graph, well inside TornadoVM's 1024 graph nodes and 8192-byte task list. */
    static final int TASKS_PER_GRAPH = 32;
    private static int plans;

    final TornadoExecutionPlan execution;
    final int graphs, tasks;
    final long constantBytes, poolBytes;
    /** Device memory the plan takes once executed: every distinct array it uses, with TornadoVM's array headers. */
    final long deviceBytes;
    /** What the plan copies between host and device ({@link Transfers}), and the name it is counted under. */
    Transfers.PerPlan transfers = new Transfers.PerPlan(0, 0, 0, 0, 0, 0);
    String label;
    private boolean executed;

    private Plan(TornadoExecutionPlan execution, int graphs, int tasks, long constantBytes, long poolBytes, long deviceBytes) {
        this.execution = execution;
        this.graphs = graphs;
        this.tasks = tasks;
        this.constantBytes = constantBytes;
        this.poolBytes = poolBytes;
        this.deviceBytes = deviceBytes;
    }

    static synchronized String nextName() { return "td" + plans++; }

    static Plan build(String name, List<Op> ops, Collection<Leaf> leaves, List<Value> results, Launch launch) {
        long pool = assignBuffers(ops, results);
        List<List<Op>> segments = new ArrayList<>();
        int count = TASKS_PER_GRAPH;
        for (Op op : ops) {
            if (count + op.tasks() > TASKS_PER_GRAPH) {
                segments.add(new ArrayList<>());
                count = 0;
            }
            segments.getLast().add(op);
            count += op.tasks();
        }
        // the graphs in which each device buffer (of a value or a leaf) is first and last used
        Map<Object, int[]> span = new IdentityHashMap<>();
        for (int k = 0; k < segments.size(); k++) {
            for (Op op : segments.get(k)) {
                for (Value v : op.outputs()) touch(span, v.buffer, k);
                for (Ref r : op.operands()) if (r != null) touch(span, r.isValue() ? r.value.buffer : r.leaf.buffer, k);
            }
        }
        Map<Object, Leaf> leafOf = new IdentityHashMap<>();
        for (Leaf l : leaves) if (l.buffer != null) leafOf.put(l.buffer, l);
        Set<Object> outs = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Value v : results) outs.add(v.buffer);

        GridScheduler grids = new GridScheduler();
        ImmutableTaskGraph[] graphs = new ImmutableTaskGraph[segments.size()];
        int tasks = 0;
        long constants = 0;
        Set<Object> arrays = Collections.newSetFromMap(new IdentityHashMap<>());
        arrays.addAll(span.keySet());
        Transfers.PerPlan moved = new Transfers.PerPlan(0, 0, 0, 0, 0, 0);
        for (int k = 0; k < segments.size(); k++) {
            Builder pb = new Builder(name + "_" + k, launch, grids);
            List<Object> consumed = new ArrayList<>(), persisted = new ArrayList<>(), toHost = new ArrayList<>(), every = new ArrayList<>();
            List<Object> first = new ArrayList<>();
            for (Map.Entry<Object, int[]> e : span.entrySet()) {
                Object o = e.getKey();
                int f = e.getValue()[0], l = e.getValue()[1];
                if (f < k && k <= l) consumed.add(o);
                if (f <= k && k < l) persisted.add(o);
                if (l == k && outs.contains(o)) toHost.add(o);
                Leaf leaf = leafOf.get(o);
                if (leaf != null && f == k) {
                    if (leaf.perCall) every.add(o);
                    else {
                        first.add(o);
                        constants += leaf.buffer.getNumBytesOfSegment();
                    }
                }
            }
            if (!consumed.isEmpty()) pb.graph.consumeFromDevice(name + "_" + (k - 1), consumed.toArray());
            for (Op op : segments.get(k)) op.emit(pb);
            first.addAll(pb.constants);
            pb.graph.transferToDevice(DataTransferMode.FIRST_EXECUTION, first.toArray());
            if (!every.isEmpty()) pb.graph.transferToDevice(DataTransferMode.EVERY_EXECUTION, every.toArray());
            if (!persisted.isEmpty()) pb.graph.persistOnDevice(persisted.toArray());
            if (!toHost.isEmpty()) pb.graph.transferToHost(DataTransferMode.EVERY_EXECUTION, toHost.toArray());
            moved = moved.plus(Transfers.PerPlan.of(every, toHost, first));
            graphs[k] = pb.graph.snapshot();
            tasks += pb.tasks;
            arrays.addAll(pb.constants);
            arrays.addAll(pb.scratch);
        }
        long device = 0;
        for (Object a : arrays) device += ((TornadoNativeArray) a).getNumBytesOfSegmentWithHeader();
        TornadoExecutionPlan plan = new TornadoExecutionPlan(graphs);
        plan.withGridScheduler(grids);
        Plan p = new Plan(plan, graphs.length, tasks, constants, pool, device);
        p.transfers = moved;
        p.label = name;
        return p;
    }

    private static void touch(Map<Object, int[]> span, Object buffer, int k) {
        int[] s = span.computeIfAbsent(buffer, b -> new int[]{k, k});
        s[1] = k;
    }

    /**
     * Gives every value a device buffer: results their own, intermediates one from a pool, taken when the value
     * is produced and returned after its last use. Returns the pool's size in bytes.
     */
    private static long assignBuffers(List<Op> ops, List<Value> results) {
        Set<Value> keep = Collections.newSetFromMap(new IdentityHashMap<>());
        keep.addAll(results);
        Map<Value, Integer> last = new IdentityHashMap<>();
        for (int i = 0; i < ops.size(); i++)
            for (Ref r : ops.get(i).operands()) if (r != null && r.isValue()) last.put(r.value, i);
        TreeMap<Integer, List<FloatArray>> free = new TreeMap<>();
        long pool = 0;
        for (int i = 0; i < ops.size(); i++) {
            Op op = ops.get(i);
            Set<Value> done = Collections.newSetFromMap(new IdentityHashMap<>());
            for (Value v : op.outputs()) {
                if (v.buffer != null) continue;
                int n = v.numel();
                if (keep.contains(v)) v.buffer = new FloatArray(n);
                else {
                    Map.Entry<Integer, List<FloatArray>> e = free.ceilingEntry(n);
                    if (e != null) {
                        v.buffer = e.getValue().removeLast();
                        if (e.getValue().isEmpty()) free.remove(e.getKey());
                    } else {
                        v.buffer = new FloatArray(n);
                        pool += 4L * n;
                    }
                }
                if (!last.containsKey(v)) done.add(v);
            }
            for (Ref r : op.operands()) if (r != null && r.isValue() && last.get(r.value) == i) done.add(r.value);
            for (Value d : done)
                if (!keep.contains(d)) free.computeIfAbsent(d.buffer.getSize(), k -> new ArrayList<>()).add(d.buffer);
        }
        return pool;
    }

    /** Runs the graphs in order, each on its own, so that each hands its device buffers to the next. */
    void execute() {
        Transfers.count(label, transfers, !executed);
        executed = true;
        if (graphs == 1) execution.execute();
        else for (int k = 0; k < graphs; k++) execution.withGraph(k).execute();
    }

    @Override
    public void close() {
        try {
            execution.close();
        } catch (TornadoExecutionPlanException e) {
            throw new IllegalStateException("cannot free the device memory of a TornadoVM plan: " + e.getMessage(), e);
        }
    }

    /** What the ops' {@link Op#emit} use to add their tasks. */
    static final class Builder {
        final TaskGraph graph;
        final String name;
        final Launch launch;
        final GridScheduler grids;
        final List<Object> constants = new ArrayList<>();
        final List<Object> scratch = new ArrayList<>();
        private final FloatArray noFloats = new FloatArray(1);
        private final FloatArray[] noOutput = {new FloatArray(1), new FloatArray(1)};
        private final ShortArray noShorts = new ShortArray(1);
        private final Map<Integer, FloatArray> tables = new HashMap<>();
        int tasks;

        Builder(String name, Launch launch, GridScheduler grids) {
            this.graph = new TaskGraph(name);
            this.name = name;
            this.launch = launch;
            this.grids = grids;
            noFloats.clear();
            noShorts.clear();
            constants.add(noFloats);
            constants.add(noShorts);
        }

        TaskGraph graph() { return graph; }

        Launch launch() { return launch; }

        /** A new task id. */
        String task() { return "t" + tasks++; }

        void grid(String task, WorkerGrid w) { grids.addWorkerGrid(name + "." + task, w); }

        FloatArray floats(Ref r) {
            if (r.isValue()) return r.value.buffer;
            if (!(r.leaf.buffer instanceof FloatArray f)) throw new IllegalStateException("16-bit data where F32 is needed: " + r.describe());
            return f;
        }

        ShortArray shorts(Ref r) { return (ShortArray) r.leaf.buffer; }

        HalfFloatArray halves(Ref r) { return (HalfFloatArray) r.leaf.buffer; }

        /** How r's data is stored: {@link Gemm#F32}, raw {@link Gemm#F16} / {@link Gemm#BF16} words, or {@link Gemm#HALF}. */
        int format(Ref r) {
            if (r.isValue()) return Gemm.F32;
            return switch (r.leaf.buffer) {
                case HalfFloatArray h -> Gemm.HALF;
                case ShortArray s -> r.storage.dtype() == dev.tornadodiffusion.tensor.DType.F16 ? Gemm.F16 : Gemm.BF16;
                default -> Gemm.F32;
            };
        }

        FloatArray out(Op op) { return op.out.buffer; }

        /** A placeholder for an unused input (never written, so every task may share it). */
        FloatArray noFloats() { return noFloats; }

        /**
         * Placeholder {@code i} for an unused output. Kernels may write it, so it is neither the input placeholder
         * nor passed twice to one task: TornadoVM orders tasks by the arrays they read and write, and an array
         * in two written arguments of one task (or read and written everywhere) makes its schedule cyclic.
         */
        FloatArray noOutput(int i) { return noOutput[i]; }

        ShortArray noShorts() { return noShorts; }

        /** A device-only work array of {@code n} floats for the tasks of one op (never transferred). */
        FloatArray scratch(int n) {
            FloatArray a = new FloatArray(n);
            scratch.add(a);
            return a;
        }

        IntArray ints(int[] values) {
            IntArray a = IntArray.fromArray(values);
            constants.add(a);
            return a;
        }

        FloatArray constant(float[] values) {
            FloatArray a = FloatArray.fromArray(values);
            constants.add(a);
            return a;
        }

        /** The widening table of a 16-bit format (a placeholder for F32). */
        FloatArray table(int format) {
            if (format == Gemm.F32) return noFloats;
            return tables.computeIfAbsent(format, f -> constant(Gemm.widenTable(f)));
        }
    }
}
