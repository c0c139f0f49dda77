package dev.tornadodiffusion.tensor.tornado;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * Rewrites a recorded op list into fewer tasks before it becomes a task graph: TornadoVM compiles every task
 * separately and launches each with a fixed host cost, so the task count sets both the first-run time and the
 * per-step overhead. Only values that nothing else reads are fused away.
 */
final class Fusion {
    private Fusion() {}

    static List<Op> run(List<Op> recorded, List<Value> results) {
        return deadCode(new ArrayList<>(recorded), results);
    }

    /** Drops ops whose values nothing reads. */
    static List<Op> deadCode(List<Op> ops, List<Value> results) {
        Set<Value> live = Collections.newSetFromMap(new IdentityHashMap<>());
        live.addAll(results);
        List<Op> kept = new ArrayList<>();
        for (int i = ops.size() - 1; i >= 0; i--) {
            Op op = ops.get(i);
            if (!live.contains(op.out)) continue;
            kept.add(op);
            for (Ref r : op.operands()) if (r != null && r.isValue()) live.add(r.value);
        }
        Collections.reverse(kept);
        return kept;
    }
}
