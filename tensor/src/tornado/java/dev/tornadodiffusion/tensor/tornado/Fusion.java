package dev.tornadodiffusion.tensor.tornado;

import dev.tornadodiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
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
 * <li>{@code gemm(act(x))} (the SiLU before every time-embedding projection): applied as A is staged.
 * </ul>
 */
final class Fusion {
    private Fusion() {}

    static List<Op> run(List<Op> recorded, List<Value> results) {
        List<Op> ops = deadCode(new ArrayList<>(recorded), results);
        Set<Value> keep = Collections.newSetFromMap(new IdentityHashMap<>());
        keep.addAll(results);
        Map<Value, Integer> uses = new IdentityHashMap<>();
        Map<Value, Op> producer = new IdentityHashMap<>();
        for (Op op : ops) {
            producer.put(op.out, op);
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
        // activations folded into their consumer are no longer read
        return deadCode(out, results);
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
            if (!live.contains(op.out)) continue;
            kept.add(op);
            for (Ref r : op.operands()) if (r != null && r.isValue()) live.add(r.value);
        }
        Collections.reverse(kept);
        return kept;
    }
}
