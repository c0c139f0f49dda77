package dev.tornadodiffusion.tensor.tornado;

import dev.tornadodiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The operations of one forward pass, as the model called them, and the plan that runs them on the device.
 * A later call of the same model with the same input shapes is replayed against {@link #entries}: the model
 * code runs again, every op it calls must match the recorded one, and only per-call host data is bound anew.
 */
final class Recording {
    /** One recorded call: what it computed, its operands as recorded (host refs carry their leaf), its result. */
    record Entry(String signature, Ref[] operands, Value out) {}

    /** Thrown when a replayed call does not do what the recording did; the backend records again. */
    static final class Mismatch extends RuntimeException {
        Mismatch(String message) { super(message, null, false, false); }
    }

    final TornadoBackend backend;
    final String name;
    final List<Entry> entries = new ArrayList<>();
    final List<Op> ops = new ArrayList<>();
    final Map<LeafKey, Leaf> leaves = new LinkedHashMap<>();
    final Map<Leaf, Tensor> recordedHost = new HashMap<>();
    Plan plan;
    long admittedBytes;                     // device memory the backend counts for this plan
    private boolean closed;
    final Set<Value> results = Collections.newSetFromMap(new IdentityHashMap<>());
    private int values;

    record LeafKey(Ref.Storage storage, boolean raw16) {}

    Recording(TornadoBackend backend, String name) {
        this.backend = backend;
        this.name = name;
    }

    /** Records {@code op} producing a value of {@code shape}; returns the pending tensor the model gets. */
    Tensor append(Op op, int[] shape) {
        Ref[] operands = op.operands();
        for (Ref r : operands) {
            if (r == null) continue;
            if (r.isValue()) {
                if (r.value.recording != this)
                    throw new IllegalStateException("a device tensor of another forward pass was passed to " + op.getClass().getSimpleName()
                            + ": results of a recorded forward pass are only valid inside it");
            } else {
                Leaf leaf = leaves.computeIfAbsent(new LeafKey(r.storage, r.raw16), k -> new Leaf(k.storage(), k.raw16()));
                recordedHost.putIfAbsent(leaf, r.host);
                r.leaf = leaf;
            }
        }
        Value v = new Value(this, values++, shape);
        op.out = v;
        ops.add(op);
        entries.add(new Entry(op.signature(shape), operands.clone(), v));
        return v.tensor;
    }

    /**
     * Marks host data that changes from call to call: what the same model call read from other memory in
     * {@code earlier} (tensors made inside the forward pass), and whatever lies in the inputs' memory.
     */
    void classify(Recording earlier, Tensor[] inputs) {
        if (earlier.entries.size() != entries.size())
            throw new IllegalStateException("the forward pass recorded " + earlier.entries.size() + " and then " + entries.size() + " operations for the same inputs");
        for (int i = 0; i < entries.size(); i++) {
            Entry e = entries.get(i), f = earlier.entries.get(i);
            if (!e.signature.equals(f.signature))
                throw new IllegalStateException("the forward pass is not repeatable: operation " + i + " was " + f.signature + ", then " + e.signature);
            for (int j = 0; j < e.operands.length; j++) {
                Ref r = e.operands[j];
                if (r == null || r.isValue()) continue;
                if (!r.storage.equals(f.operands[j].storage) || isInput(r.storage, inputs)) r.leaf.perCall = true;
            }
        }
    }

    private static boolean isInput(Ref.Storage s, Tensor[] inputs) {
        for (Tensor t : inputs) {
            if (t.pending() != null) continue;
            Ref.Storage in = Ref.Storage.of(t);
            if (in.owner() == s.owner() && in.address() == s.address()) return true;
        }
        return false;
    }

    /** A ref to a new constant made from host data (a fused op's stacked weights), uploaded like the model's. */
    Ref constant(Tensor t, boolean raw16) {
        Ref r = Ref.of(t, raw16);
        Leaf leaf = new Leaf(r.storage, r.raw16);
        leaves.put(new LeafKey(r.storage, r.raw16), leaf);
        recordedHost.put(leaf, t);
        r.leaf = leaf;
        return r;
    }

    /** The per-call tensors of the recording pass itself, for its first execution. */
    Map<Leaf, Tensor> recordedBindings() {
        Map<Leaf, Tensor> b = new HashMap<>();
        for (Leaf l : leaves.values()) if (l.perCall) b.put(l, recordedHost.get(l));
        return b;
    }

    /** Builds the device plan: fusion, buffers, one task graph. Uploads nothing yet (the first execution does). */
    void build(List<Value> results, Launch launch) {
        this.results.addAll(results);
        List<Op> exec = Fusion.run(ops, results, this);
        for (Leaf l : leaves.values()) {
            if (l.buffer != null || !used(l, exec)) continue;
            if (l.perCall) l.allocate(recordedHost.get(l), false);
            else backend.constants.acquire(l, recordedHost.get(l), backend.halfStorage(l) && !gatherTable(l, exec));
        }
        plan = Plan.build(name, exec, leaves.values(), results, launch);
    }

    /** Whether an embedding lookup reads {@code l} (its kernel takes F32 or raw 16-bit tables, not fp16 ones). */
    private static boolean gatherTable(Leaf l, List<Op> exec) {
        for (Op op : exec) if (op instanceof Op.Gather g && g.table.leaf == l) return true;
        return false;
    }

    private static boolean used(Leaf l, List<Op> exec) {
        for (Op op : exec) for (Ref r : op.operands()) if (r != null && r.leaf == l) return true;
        return false;
    }

    /** Runs the plan with {@code bindings} as the per-call data; returns host copies of {@code results}. */
    Tensor[] execute(Map<Leaf, Tensor> bindings, Tensor[] results) {
        for (Leaf l : leaves.values()) {
            if (!l.perCall || l.buffer == null) continue;
            Tensor t = bindings.get(l);
            if (t == null) throw new IllegalStateException("no data for per-call input " + l.storage);
            l.fill(t);
        }
        plan.execute();
        Tensor[] out = new Tensor[results.length];
        for (int i = 0; i < results.length; i++) {
            Tensor r = results[i];
            out[i] = r.pending() instanceof Value v ? Tensor.of(v.buffer.toHeapArray(), r.shape()) : r;
        }
        return out;
    }

    /** Matches the ops of a replayed call, in order, against the entries. */
    final class Replay {
        final Map<Leaf, Tensor> bindings = new HashMap<>();
        int cursor;

        Tensor match(Op op, int[] shape) {
            if (cursor >= entries.size()) throw new Mismatch("the forward pass calls more operations than when it was recorded");
            Entry e = entries.get(cursor++);
            String sig = op.signature(shape);
            if (!sig.equals(e.signature)) throw new Mismatch("operation " + (cursor - 1) + " is " + sig + ", recorded " + e.signature);
            Ref[] now = op.operands();
            for (int j = 0; j < now.length; j++) {
                Ref rec = e.operands[j];
                if (rec == null || rec.isValue()) continue;
                Leaf l = rec.leaf;
                Ref r = now[j];
                if (l.perCall) {
                    Tensor prev = bindings.putIfAbsent(l, r.host);
                    if (prev != null && !Ref.Storage.of(prev).equals(r.storage))
                        throw new Mismatch("operation " + (cursor - 1) + " reads other per-call data than the recording");
                } else if (!r.storage.equals(l.storage) && (l.buffer == null || !l.holds(r.host))) {
                    throw new Mismatch("a constant of operation " + (cursor - 1) + " (" + sig + ") changed since it was recorded");
                }
            }
            return e.out.tensor;
        }

        void finish() {
            if (cursor != entries.size()) throw new Mismatch("the forward pass calls fewer operations than when it was recorded");
        }
    }

    /** Frees the plan's device memory and its hold on shared weights; once. */
    void close() {
        if (closed) return;
        closed = true;
        if (plan != null) plan.close();
        for (Leaf l : leaves.values()) if (!l.perCall && l.buffer != null) backend.constants.release(l);
    }
}
