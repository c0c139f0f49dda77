package dev.tornadodiffusion.tensor.tornado;

import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.exceptions.TornadoExecutionPlanException;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.arrays.ShortArray;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * One TornadoVM task graph and its execution plan: constants (weights, kernel geometry) copied on the first
 * execution only, per-call host data on every execution, intermediates in a pool of device buffers that values
 * with disjoint lifetimes share, and only the results copied back.
 */
final class Plan implements AutoCloseable {
    private static int plans;

    final TornadoExecutionPlan execution;
    final int tasks;
    final long constantBytes, poolBytes;
    long executions;

    private Plan(TornadoExecutionPlan execution, int tasks, long constantBytes, long poolBytes) {
        this.execution = execution;
        this.tasks = tasks;
        this.constantBytes = constantBytes;
        this.poolBytes = poolBytes;
    }

    static synchronized String nextName() { return "td" + plans++; }

    static Plan build(String name, List<Op> ops, Collection<Leaf> leaves, List<Value> results, Launch launch) {
        long pool = assignBuffers(ops, results);
        Builder pb = new Builder(name, launch);
        for (Op op : ops) op.emit(pb);
        List<Object> first = new ArrayList<>(pb.constants), every = new ArrayList<>();
        long constants = 0;
        for (Leaf l : leaves) {
            if (l.buffer == null) continue;
            if (l.perCall) every.add(l.buffer);
            else {
                first.add(l.buffer);
                constants += l.buffer.getNumBytesOfSegment();
            }
        }
        TaskGraph g = pb.graph;
        g.transferToDevice(DataTransferMode.FIRST_EXECUTION, first.toArray());
        if (!every.isEmpty()) g.transferToDevice(DataTransferMode.EVERY_EXECUTION, every.toArray());
        Set<Object> outs = new LinkedHashSet<>();
        for (Value v : results) outs.add(v.buffer);
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, outs.toArray());
        TornadoExecutionPlan plan = new TornadoExecutionPlan(g.snapshot());
        plan.withGridScheduler(pb.grids);
        return new Plan(plan, pb.tasks, constants, pool);
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
            Value v = op.out;
            if (v.buffer == null) {
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
            }
            Set<Value> done = Collections.newSetFromMap(new IdentityHashMap<>());
            for (Ref r : op.operands()) if (r != null && r.isValue() && last.get(r.value) == i) done.add(r.value);
            if (!last.containsKey(v)) done.add(v);
            for (Value d : done)
                if (!keep.contains(d)) free.computeIfAbsent(d.buffer.getSize(), k -> new ArrayList<>()).add(d.buffer);
        }
        return pool;
    }

    void execute() {
        execution.execute();
        executions++;
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
        final GridScheduler grids = new GridScheduler();
        final List<Object> constants = new ArrayList<>();
        private final FloatArray noFloats = new FloatArray(1);
        private final ShortArray noShorts = new ShortArray(1);
        private final Map<Integer, FloatArray> tables = new HashMap<>();
        int tasks;

        Builder(String name, Launch launch) {
            this.graph = new TaskGraph(name);
            this.name = name;
            this.launch = launch;
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
            if (r.raw16) throw new IllegalStateException("16-bit data where F32 is needed: " + r.describe());
            return (FloatArray) r.leaf.buffer;
        }

        ShortArray shorts(Ref r) { return (ShortArray) r.leaf.buffer; }

        /** How r's data is stored: {@link Gemm#F32}, or raw {@link Gemm#F16} / {@link Gemm#BF16} words. */
        int format(Ref r) {
            if (r.isValue() || !r.raw16) return Gemm.F32;
            return r.storage.dtype() == dev.tornadodiffusion.tensor.DType.F16 ? Gemm.F16 : Gemm.BF16;
        }

        FloatArray out(Op op) { return op.out.buffer; }

        FloatArray noFloats() { return noFloats; }

        ShortArray noShorts() { return noShorts; }

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
