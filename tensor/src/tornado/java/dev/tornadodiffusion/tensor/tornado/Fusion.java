package dev.tornadodiffusion.tensor.tornado;

import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Rewrites a recorded op list into fewer tasks before it becomes task graphs: TornadoVM compiles every task
 * separately and launches each with a fixed host cost, so the task count sets both the first-run time and the
 * per-step overhead. A value is fused away only when exactly one op reads it and it is not a result; the op
 * that absorbs it takes over the consumer's output value, so later ops see no difference.
 * <ul>
 * <li>{@code scale(map(..))}, {@code act(map(..))}: the scale or activation becomes the map's epilogue;
 * <li>{@code a * gelu(b)} (GEGLU) and other binaries of a unary map: the unary runs on the operand as it is read;
 * <li>{@code gemm(..) + r}, {@code conv(..) + r} (residuals, the broadcast time embedding), then {@code * s}:
 *     added in the GEMM's epilogue;
 * <li>{@code gemm(act(x))} (the SiLU before every time-embedding projection): applied as A is staged;
 * <li>up to three GEMMs of the same input with constant weights (attention's q, k, v projections): one GEMM over
 *     their weights side by side, writing each block of columns to its own output.
 * </ul>
 */
final class Fusion {
    private Fusion() {}

    static List<Op> run(List<Op> recorded, List<Value> results, Recording rec) {
        List<Op> ops = deadCode(new ArrayList<>(recorded), results);
        Set<Value> keep = Collections.newSetFromMap(new IdentityHashMap<>());
        keep.addAll(results);
        Map<Value, Integer> uses = new IdentityHashMap<>();
        Map<Value, Op> producer = new IdentityHashMap<>();
        for (Op op : ops) {
            for (Value v : op.outputs()) producer.put(v, op);
            for (Ref r : op.operands()) if (r != null && r.isValue()) uses.merge(r.value, 1, Integer::sum);
        }
        List<Op> out = new ArrayList<>();
        for (Op op : ops) {
            Op into = op instanceof Op.Map m ? absorb(m, producer, uses, keep) : null;
            if (into != null) {
                // the absorbing op now reads what m read: it moves to m's place
                out.remove(into);
                out.add(into);
                producer.put(into.out, into);
                continue;
            }
            if (op instanceof Op.MatMul g) prologue(g, producer, uses, keep);
            out.add(op);
        }
        siblings(out, keep, rec);
        // activations folded into their consumer are no longer read
        return deadCode(out, results);
    }

    /**
     * Merges GEMMs that read the same A view and constant weights [n, k] (dense, used transposed) into the first
     * of them: its B becomes their weights stacked into one new constant, its bias their biases (zeros where one
     * has none), and the others' outputs its siblings. The others' values are then made earlier than before,
     * which is safe: their inputs are the shared A (made before the first) and constants.
     */
    private static void siblings(List<Op> ops, Set<Value> keep, Recording rec) {
        Map<String, List<Op.MatMul>> open = new HashMap<>();
        List<List<Op.MatMul>> groups = new ArrayList<>();
        Map<Object, Integer> ids = new IdentityHashMap<>();
        for (Op op : ops) {
            if (!(op instanceof Op.MatMul g) || g.act != Elementwise.ID || g.res != null || g.scale != 1f || keep.contains(g.out)) continue;
            Ref b = g.b;
            int k = b.shape[1], n = b.shape[2];
            if (b.isValue() || b.leaf.perCall || b.shape[0] != 1 || b.strides[1] != 1 || b.strides[2] != k || b.leaf.length() < (long) n * k) continue;
            if (g.bias != null && (g.bias.isValue() || g.bias.leaf.perCall)) continue;
            Ref a = g.a;
            Object source = a.isValue() ? a.value : a.leaf;
            String key = ids.computeIfAbsent(source, x -> ids.size()) + "@" + a.offset + Arrays.toString(a.shape) + Arrays.toString(a.strides)
                    + " " + b.raw16 + b.leaf.storage.dtype() + " n" + n;
            List<Op.MatMul> group = open.get(key);
            if (group == null || group.size() == 3) {
                group = new ArrayList<>();
                open.put(key, group);
                groups.add(group);
            }
            group.add(g);
        }
        for (List<Op.MatMul> group : groups) {
            if (group.size() < 2) continue;
            Op.MatMul first = group.getFirst();
            int k = first.b.shape[1], n = first.b.shape[2], parts = group.size();
            DType dt = first.b.raw16 ? first.b.leaf.storage.dtype() : DType.F32;
            Tensor weights = Tensor.zeros(dt, parts * n, k);
            float[] biases = new float[parts * n];
            boolean anyBias = false;
            for (int p = 0; p < parts; p++) {
                Op.MatMul g = group.get(p);
                copyRows(rec.recordedHost.get(g.b.leaf), g.b, weights, (long) p * n * k, (long) n * k);
                if (g.bias != null) {
                    anyBias = true;
                    Tensor bias = rec.recordedHost.get(g.bias.leaf);
                    long lo = Ref.Storage.of(bias).lo() + g.bias.offset;
                    for (int j = 0; j < n; j++) biases[p * n + j] = bias.dtype().read(bias.segment(), lo + j);
                }
            }
            first.b = rec.constant(weights, first.b.raw16).view(0, new int[]{1, k, parts * n}, new long[]{0, 1, k});
            first.bias = anyBias ? rec.constant(Tensor.of(biases, parts * n), false) : null;
            first.partN = n;
            first.siblings = new Value[parts - 1];
            for (int p = 1; p < parts; p++) {
                first.siblings[p - 1] = group.get(p).out;
                ops.remove(group.get(p));
            }
        }
    }

    /** Copies {@code count} elements of a weight's storage from {@code r}'s offset into {@code dst} at element {@code at}, as stored. */
    private static void copyRows(Tensor host, Ref r, Tensor dst, long at, long count) {
        long lo = Ref.Storage.of(host).lo() + r.offset;
        if (host.dtype() == dst.dtype()) {
            long bytes = host.dtype().byteSize;
            MemorySegment.copy(host.segment(), lo * bytes, dst.segment(), at * bytes, count * bytes);
        } else {
            for (long i = 0; i < count; i++) dst.dtype().write(dst.segment(), at + i, host.dtype().read(host.segment(), lo + i));
        }
    }

    /** The op that produced v, if nothing but one op reads v and v is not a result. */
    private static Op single(Value v, Map<Value, Op> producer, Map<Value, Integer> uses, Set<Value> keep) {
        return v == null || keep.contains(v) || uses.getOrDefault(v, 0) != 1 ? null : producer.get(v);
    }

    /** Whether r reads all of v in v's own dense order and shape. */
    private static boolean whole(Ref r, Value v) {
        return r != null && r.value == v && r.offset == 0 && Arrays.equals(r.shape, v.shape) && r.dense();
    }

    /** Folds map m into the op producing one of its operands and returns that op, or null if m stays. */
    private static Op absorb(Op.Map m, Map<Value, Op> producer, Map<Value, Integer> uses, Set<Value> keep) {
        int pre = Elementwise.pre(m.code), bin = Elementwise.bin(m.code), post = Elementwise.post(m.code);
        if (bin == Elementwise.FIRST && pre == Elementwise.ID) {
            // scale or activation of a map's result: becomes that map's epilogue
            if (single(m.a.value, producer, uses, keep) instanceof Op.Map p && whole(m.a, p.out) && (post == Elementwise.ID || Elementwise.post(p.code) == Elementwise.ID && p.scale == 1f && p.lo == 0 && p.hi == 0)) {
                if (post != Elementwise.ID) {
                    p.code = Elementwise.code(Elementwise.pre(p.code), Elementwise.bin(p.code), post);
                    p.lo = m.lo;
                    p.hi = m.hi;
                }
                p.scale *= m.scale;
                p.out = m.out;
                return p;
            }
            // scale of a GEMM or convolution: joins its epilogue
            if (post == Elementwise.ID && single(m.a.value, producer, uses, keep) instanceof Op p && whole(m.a, p.out)) {
                if (p instanceof Op.MatMul g) {
                    g.scale *= m.scale;
                    g.out = m.out;
                    return g;
                }
                if (p instanceof Op.Conv c) {
                    c.scale *= m.scale;
                    c.out = m.out;
                    return c;
                }
            }
            return null;
        }
        if (pre != Elementwise.ID || post != Elementwise.ID || m.b == null) return null;
        // GEMM or convolution plus a residual (or a broadcast bias such as the time embedding)
        if (bin == Elementwise.ADD) {
            for (int side = 0; side < 2; side++) {
                Ref x = side == 0 ? m.a : m.b, r = side == 0 ? m.b : m.a;
                if (r.value != null && r.value == x.value) continue;
                Op p = single(x.value, producer, uses, keep);
                if (p instanceof Op.MatMul g && g.res == null && g.scale == 1f && whole(x, g.out)) {
                    long[] st = Views.reshape(r.shape, r.strides, new int[]{g.batch(), g.m(), g.n()});
                    if (st == null) continue;
                    g.res = r.view(0, new int[]{g.batch(), g.m(), g.n()}, st);
                    g.scale = m.scale;
                    g.out = m.out;
                    return g;
                }
                if (p instanceof Op.Conv c && c.res == null && c.scale == 1f && whole(x, c.out)) {
                    int[] s = c.out.shape;
                    long[] st = Views.reshape(r.shape, r.strides, new int[]{s[0], s[1], s[2] * s[3]});
                    if (st == null) continue;
                    c.res = r.view(0, new int[]{s[0], s[1], s[2] * s[3]}, st);
                    c.scale = m.scale;
                    c.out = m.out;
                    return c;
                }
            }
        }
        // a binary of an activation's result: the activation runs on the operand as it is read (GEGLU)
        for (int side = 0; side < 2; side++) {
            Ref x = side == 0 ? m.b : m.a, other = side == 0 ? m.a : m.b;
            if (side == 1 && bin == Elementwise.SUB) break;
            if (single(x.value, producer, uses, keep) instanceof Op.Map u && isActivation(u) && whole(x, u.out)) {
                Op.Map fused = new Op.Map(other, u.a, Elementwise.code(Elementwise.post(u.code), bin, Elementwise.ID), m.scale);
                fused.out = m.out;
                if (fused.geometry() == null) continue;
                m.a = fused.a;
                m.b = fused.b;
                m.code = fused.code;
                uses.merge(u.out, -1, Integer::sum);
                return null;
            }
        }
        return null;
    }

    /** A plain activation: {@code act(a)} with nothing else. */
    private static boolean isActivation(Op.Map u) {
        int post = Elementwise.post(u.code);
        return Elementwise.bin(u.code) == Elementwise.FIRST && Elementwise.pre(u.code) == Elementwise.ID && post != Elementwise.ID
                && post != Elementwise.CLAMP && u.scale == 1f;
    }

    /** A GEMM whose A is an activation's result applies the activation while it stages A. */
    private static void prologue(Op.MatMul g, Map<Value, Op> producer, Map<Value, Integer> uses, Set<Value> keep) {
        if (g.act != Elementwise.ID || !(single(g.a.value, producer, uses, keep) instanceof Op.Map u) || !isActivation(u)) return;
        int[] target = g.a.shape;
        long[] dense = Views.dense(target);
        if (target[0] == 1) dense[0] = g.a.strides[0];
        if (g.a.offset != 0 || !Arrays.equals(dense, g.a.strides) || Tensor.numel(target) != u.out.numel()) return;
        long[] st = Views.reshape(u.a.shape, u.a.strides, target);
        if (st == null) return;
        if (target[0] == 1) st[0] = 0;
        g.a = u.a.view(0, target, st);
        g.act = Elementwise.post(u.code);
        uses.merge(u.out, -1, Integer::sum);
    }

    /** Drops ops whose values nothing reads. */
    static List<Op> deadCode(List<Op> ops, List<Value> results) {
        Set<Value> live = Collections.newSetFromMap(new IdentityHashMap<>());
        live.addAll(results);
        List<Op> kept = new ArrayList<>();
        for (int i = ops.size() - 1; i >= 0; i--) {
            Op op = ops.get(i);
            if (Arrays.stream(op.outputs()).noneMatch(live::contains)) continue;
            kept.add(op);
            for (Ref r : op.operands()) if (r != null && r.isValue()) live.add(r.value);
        }
        Collections.reverse(kept);
        return kept;
    }
}
