package dev.tornadodiffusion.training;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Backward;
import dev.tornadodiffusion.tensor.Backward.Activation;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.tensor.cpu.CpuBackend;
import dev.tornadodiffusion.tensor.cpu.CpuBackward;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reverse-mode autodiff as a {@link Backend}: a model built over a tape runs its forward pass through the wrapped
 * backend unchanged, and every op that reads a tracked tensor is recorded with what its backward pass needs.
 * {@link #backward} then runs the recorded ops in reverse through {@link Backward} ops and the wrapped backend's
 * forward ops, adding each gradient into the tensor it belongs to.
 * <p>
 * Gradients belong to storage, not to tensor objects: every op output is a new dense F32 array, and a view of it
 * (reshape, permute, narrow, chunk, select: the plain {@link Tensor} views model code uses between ops) shares
 * that array, so the gradient of a view is added into its array's gradient at the view's elements. A parameter is
 * tracked with {@link #track} and must be a dense heap F32 tensor ({@link Parameters} makes such copies); views of
 * it (FeedForward's two halves of one weight) get their gradient through it. Untracked inputs (data, frozen
 * memory-mapped weights) are constants. A model's forward pass must not copy a view outside the backend (a
 * {@code reshape} of a permuted view copies): use {@code backend.contiguous} there, as nn does.
 * <p>
 * Backward runs in the reverse of recording order and every backward op has a fixed reduction order, so the
 * gradients are the same bits for the same inputs and thread count. Not thread-safe: one tape per training loop.
 */
public final class Tape implements Backend {
    private final Backend be;
    private final Backward bw;
    /** What is tracked, by the array that holds it. */
    private final Map<Object, Node> nodes = new IdentityHashMap<>();
    private final List<Step> steps = new ArrayList<>();
    private boolean recording = true;

    /** A tracked array: a parameter (kept across steps) or an op's output (dropped after backward). */
    private static final class Node {
        final float[] values;
        final boolean parameter;
        float[] grad;

        Node(float[] values, boolean parameter) {
            this.values = values;
            this.parameter = parameter;
        }
    }

    /** One recorded op: its output and how to send the output's gradient to its inputs. */
    private record Step(Node out, int[] shape, Pullback pullback) {}

    private interface Pullback { void run(Tensor dy); }

    public Tape(Backend backend, Backward backward) {
        this.be = backend;
        this.bw = backward;
    }

    /** A tape over the CPU backend. */
    public static Tape cpu() {
        return new Tape(new CpuBackend(), new CpuBackward());
    }

    /** A tape over {@code backend}, which must have backward ops (the CPU backend has; TornadoVM's not yet). */
    public static Tape of(Backend backend) {
        if (backend instanceof CpuBackend cpu) return new Tape(cpu, new CpuBackward());
        if (backend instanceof Backward bw) return new Tape(backend, bw);
        throw new IllegalArgumentException("training needs backward ops, which the " + backend.name() + " backend does not have yet: train on the CPU backend");
    }

    /** The backend the ops run on. */
    public Backend backend() { return be; }

    // ---- parameters and gradients

    /** Tracks {@code parameter} (a dense heap F32 tensor): its gradient accumulates over backward passes until {@link #zeroGrad}. */
    public Tensor track(Tensor parameter) {
        if (!parameter.isDenseHeapF32())
            throw new IllegalArgumentException("a trainable parameter must be a dense F32 tensor, got " + parameter + " (make trainable copies with Parameters.copyOf)");
        float[] a = parameter.array();
        Node n = nodes.get(a);
        if (n == null) nodes.put(a, new Node(a, true));
        else if (!n.parameter) throw new IllegalArgumentException(parameter + " is an op's output, not a parameter");
        return parameter;
    }

    /** Tracks every floating tensor of {@code parameters} (integer buffers such as position ids stay constants). */
    public Parameters track(Parameters parameters) {
        for (Tensor t : parameters.tensors().values()) if (t.dtype().floating) track(t);
        return parameters;
    }

    /** Stops tracking {@code parameter} (frozen from now on); its gradient is dropped. */
    public void untrack(Tensor parameter) {
        Node n = nodes.get(storage(parameter));
        if (n != null && n.parameter) nodes.remove(n.values);
    }

    /** True when gradients flow into {@code t} (a tracked parameter, an op output that depends on one, or a view of either). */
    public boolean requiresGrad(Tensor t) {
        return t != null && nodes.containsKey(storage(t));
    }

    /** The gradient accumulated for a tracked parameter (a live view: zeros when no gradient reached it). */
    public Tensor grad(Tensor parameter) {
        Node n = nodes.get(storage(parameter));
        if (n == null || !n.parameter) throw new IllegalArgumentException(parameter + " is not a tracked parameter");
        if (n.grad == null) n.grad = new float[n.values.length];
        return Tensor.of(n.grad, parameter.shape());
    }

    /** Sets every parameter's gradient to zero (before the next step, or after accumulating several micro-batches). */
    public void zeroGrad() {
        for (Node n : nodes.values()) if (n.parameter && n.grad != null) Arrays.fill(n.grad, 0f);
    }

    /** Drops what was recorded since the last backward pass (a forward pass whose loss is not needed). */
    public void clear() {
        steps.clear();
        nodes.values().removeIf(n -> !n.parameter);
    }

    /**
     * Runs ops without recording them until closed: sampling or evaluating a model that is being trained.
     * {@code try (var g = tape.noGrad()) { ... }}
     */
    public Scope noGrad() {
        boolean was = recording;
        recording = false;
        return () -> recording = was;
    }

    /** A region of code with recording switched off; closing it switches recording back. */
    public interface Scope extends AutoCloseable {
        @Override void close();
    }

    /**
     * Adds d{@code loss}/d{@code p} to the gradient of every tracked parameter {@code p}, then drops the recording.
     * {@code loss} must be a one-element tensor computed on this tape from tracked parameters.
     */
    public void backward(Tensor loss) {
        if (loss.numel() != 1) throw new IllegalArgumentException("backward needs a one-element loss, got " + loss);
        if (!requiresGrad(loss)) throw new IllegalArgumentException("the loss " + loss + " does not depend on a tracked parameter on this tape");
        try {
            accumulate(loss, Tensor.of(new float[]{1f}, loss.shape()));
            for (int i = steps.size() - 1; i >= 0; i--) {
                Step s = steps.set(i, null);   // its inputs may be freed as soon as it has run
                float[] g = s.out.grad;
                if (g == null) continue;
                s.out.grad = null;
                s.pullback.run(Tensor.of(g, s.shape));
            }
        } finally {
            clear();
        }
    }

    // ---- recording

    private static Object storage(Tensor t) {
        return t.segment().heapBase().orElse(null);
    }

    private boolean anyTracked(Tensor... ts) {
        if (!recording) return false;
        for (Tensor t : ts) if (requiresGrad(t)) return true;
        return false;
    }

    /** Records {@code out} as the result of an op whose gradient {@code pullback} sends to its inputs. */
    private Tensor record(Tensor out, Pullback pullback) {
        float[] a = out.array();
        if (nodes.containsKey(a)) throw new IllegalStateException("an op returned a tracked array as its result: " + out);
        Node n = new Node(a, false);
        nodes.put(a, n);
        steps.add(new Step(n, out.shape(), pullback));
        return out;
    }

    /**
     * Adds {@code g} ({@code view}'s shape) into the gradient of the array {@code view} looks at; nothing when untracked.
     * Every pullback hands over a gradient no one else holds, so the first one for a whole array becomes its gradient.
     */
    private void accumulate(Tensor view, Tensor g) {
        Node n = view == null ? null : nodes.get(storage(view));
        if (n == null) return;
        if (!view.sameShape(g)) throw new IllegalStateException("gradient " + g + " for " + view);
        float[] src = g.contiguousF32().array();
        if (n.grad == null && src.length == n.values.length && view.isDenseHeapF32()) {
            n.grad = src;
            return;
        }
        if (n.grad == null) n.grad = new float[n.values.length];
        float[] dst = n.grad;
        long base = view.segment().address() / Float.BYTES;
        if (view.isContiguous()) {
            int at = (int) (base + view.offset());
            for (int i = 0; i < src.length; i++) dst[at + i] += src[i];
            return;
        }
        // Strided view: walk its multi-index, innermost dimension fastest.
        int[] shape = view.shape();
        long[] st = view.strides();
        int r = shape.length, last = shape[r - 1];
        long inner = st[r - 1];
        int[] idx = new int[r];
        for (int i = 0; i < src.length; i += last) {
            long at = base + view.offset();
            for (int d = 0; d < r - 1; d++) at += idx[d] * st[d];
            for (int j = 0; j < last; j++) dst[(int) (at + j * inner)] += src[i + j];
            for (int d = r - 2; d >= 0 && ++idx[d] == shape[d]; d--) idx[d] = 0;
        }
    }

    // ---- ops

    @Override public String name() { return be.name() + "+tape"; }

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        Tensor y = be.matmul(a, b);
        if (!anyTracked(a, b)) return y;
        return record(y, dy -> {
            if (requiresGrad(a)) accumulate(a, bw.sumTo(be.matmul(dy, b.transpose(-1, -2)), a.shape()));
            if (requiresGrad(b)) accumulate(b, bw.sumTo(be.matmul(a.transpose(-1, -2), dy), b.shape()));
        });
    }

    @Override
    public Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        Tensor y = be.linear(x, weight, bias);
        if (!anyTracked(x, weight, bias)) return y;
        return record(y, dy -> {
            int in = weight.dim(1), out = weight.dim(0), rows = (int) (x.numel() / in);
            Tensor g = dy.reshape(rows, out);
            if (requiresGrad(x)) accumulate(x, be.matmul(g, weight).reshape(x.shape()));
            if (requiresGrad(weight)) accumulate(weight, be.matmul(g.transpose(0, 1), x.reshape(rows, in)));
            if (requiresGrad(bias)) accumulate(bias, bw.sumTo(g, out));
        });
    }

    @Override
    public Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int stride, int padding, int groups) {
        Tensor y = be.conv2d(x, weight, bias, stride, padding, groups);
        if (!anyTracked(x, weight, bias)) return y;
        return record(y, dy -> {
            if (requiresGrad(x)) accumulate(x, bw.conv2dBackwardInput(weight, dy, x.shape(), stride, padding, groups));
            if (requiresGrad(weight)) accumulate(weight, bw.conv2dBackwardWeight(x, weight.shape(), dy, stride, padding, groups));
            if (requiresGrad(bias)) accumulate(bias, bw.sumTo(dy, 1, dy.dim(1), 1, 1).reshape(bias.shape()));
        });
    }

    @Override
    public Tensor pad2d(Tensor x, int left, int right, int top, int bottom) {
        Tensor y = be.pad2d(x, left, right, top, bottom);
        if (!anyTracked(x)) return y;
        return record(y, dy -> accumulate(x, dy.narrow(-2, top, x.dim(-2)).narrow(-1, left, x.dim(-1))));
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, boolean causal) {
        Tensor y = be.attention(q, k, v, heads, causal);
        if (!anyTracked(q, k, v)) return y;
        return record(y, dy -> {
            Tensor[] g = bw.attentionBackward(q, k, v, y, heads, causal, dy);
            accumulate(q, g[0]);
            accumulate(k, g[1]);
            accumulate(v, g[2]);
        });
    }

    @Override
    public Tensor groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, float eps, boolean silu) {
        Tensor y = be.groupNorm(x, groups, weight, bias, eps, silu);
        if (!anyTracked(x, weight, bias)) return y;
        return record(y, dy -> {
            Tensor[] g = bw.groupNormBackward(x, groups, weight, bias, eps, silu, dy);
            accumulate(x, g[0]);
            accumulate(weight, g[1]);
            accumulate(bias, g[2]);
        });
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, float eps) {
        Tensor y = be.layerNorm(x, weight, bias, eps);
        if (!anyTracked(x, weight, bias)) return y;
        return record(y, dy -> {
            Tensor[] g = bw.layerNormBackward(x, weight, bias, eps, dy);
            accumulate(x, g[0]);
            accumulate(weight, g[1]);
            accumulate(bias, g[2]);
        });
    }

    @Override
    public Tensor softmax(Tensor x) {
        Tensor y = be.softmax(x);
        if (!anyTracked(x)) return y;
        return record(y, dy -> accumulate(x, bw.softmaxBackward(y, dy)));
    }

    private Tensor activation(Tensor y, Tensor x, Activation f) {
        if (!anyTracked(x)) return y;
        return record(y, dy -> accumulate(x, bw.activationBackward(f, x, dy)));
    }

    @Override public Tensor silu(Tensor x) { return activation(be.silu(x), x, Activation.SILU); }
    @Override public Tensor gelu(Tensor x) { return activation(be.gelu(x), x, Activation.GELU); }
    @Override public Tensor geluTanh(Tensor x) { return activation(be.geluTanh(x), x, Activation.GELU_TANH); }
    @Override public Tensor quickGelu(Tensor x) { return activation(be.quickGelu(x), x, Activation.QUICK_GELU); }
    @Override public Tensor sin(Tensor x) { return activation(be.sin(x), x, Activation.SIN); }
    @Override public Tensor cos(Tensor x) { return activation(be.cos(x), x, Activation.COS); }

    /** |x| (subgradient 0 at 0), for L1 losses: x times its sign, the sign being abs' derivative. */
    public Tensor abs(Tensor x) {
        Tensor y = be.mul(x, bw.activationBackward(Activation.ABS, x, Tensor.of(filled(x.numel(), 1f), x.shape())));
        return activation(y, x, Activation.ABS);
    }

    @Override
    public Tensor exp(Tensor x) {
        Tensor y = be.exp(x);
        if (!anyTracked(x)) return y;
        return record(y, dy -> accumulate(x, be.mul(dy, y)));
    }

    @Override
    public Tensor clamp(Tensor x, float lo, float hi) {
        Tensor y = be.clamp(x, lo, hi);
        if (!anyTracked(x)) return y;
        return record(y, dy -> accumulate(x, bw.clampBackward(x, lo, hi, dy)));
    }

    @Override
    public Tensor add(Tensor a, Tensor b) {
        Tensor y = be.add(a, b);
        if (!anyTracked(a, b)) return y;
        return record(y, dy -> {
            if (requiresGrad(a)) accumulate(a, bw.sumTo(dy, a.shape()));
            if (requiresGrad(b)) accumulate(b, bw.sumTo(dy, b.shape()));
        });
    }

    @Override
    public Tensor sub(Tensor a, Tensor b) {
        Tensor y = be.sub(a, b);
        if (!anyTracked(a, b)) return y;
        return record(y, dy -> {
            if (requiresGrad(a)) accumulate(a, bw.sumTo(dy, a.shape()));
            if (requiresGrad(b)) accumulate(b, bw.sumTo(be.scale(dy, -1f), b.shape()));
        });
    }

    @Override
    public Tensor mul(Tensor a, Tensor b) {
        Tensor y = be.mul(a, b);
        if (!anyTracked(a, b)) return y;
        return record(y, dy -> {
            if (requiresGrad(a)) accumulate(a, bw.sumTo(be.mul(dy, b), a.shape()));
            if (requiresGrad(b)) accumulate(b, bw.sumTo(be.mul(dy, a), b.shape()));
        });
    }

    @Override
    public Tensor scale(Tensor x, float s) {
        Tensor y = be.scale(x, s);
        if (!anyTracked(x)) return y;
        return record(y, dy -> accumulate(x, be.scale(dy, s)));
    }

    /** The sum of all elements, shape []. */
    public Tensor sum(Tensor x) {
        Tensor y = bw.sum(x);
        if (!anyTracked(x)) return y;
        return record(y, dy -> accumulate(x, Tensor.of(filled(x.numel(), dy.item()), x.shape())));
    }

    /** The mean of all elements, shape []. */
    public Tensor mean(Tensor x) {
        return scale(sum(x), 1f / x.numel());
    }

    @Override
    public Tensor concat(int dim, Tensor... xs) {
        Tensor y = be.concat(dim, xs);
        if (!anyTracked(xs)) return y;
        int d = dim < 0 ? dim + y.rank() : dim;
        return record(y, dy -> {
            int at = 0;
            for (Tensor x : xs) {
                if (requiresGrad(x)) accumulate(x, dy.narrow(d, at, x.dim(d)));
                at += x.dim(d);
            }
        });
    }

    @Override
    public Tensor embedding(Tensor table, Tensor ids) {
        Tensor y = be.embedding(table, ids);
        if (!anyTracked(table)) return y;
        return record(y, dy -> accumulate(table, bw.embeddingBackward(ids, table.dim(0), dy)));
    }

    @Override
    public Tensor upsampleNearest2x(Tensor x) {
        Tensor y = be.upsampleNearest2x(x);
        if (!anyTracked(x)) return y;
        return record(y, dy -> accumulate(x, bw.upsampleNearest2xBackward(dy)));
    }

    @Override
    public Tensor timestepEmbedding(Tensor timesteps, int dim, boolean flipSinToCos, float downscaleFreqShift, float scale, float maxPeriod) {
        Tensor y = be.timestepEmbedding(timesteps, dim, flipSinToCos, downscaleFreqShift, scale, maxPeriod);
        if (!anyTracked(timesteps)) return y;
        return record(y, dy -> accumulate(timesteps, bw.timestepEmbeddingBackward(timesteps, dim, flipSinToCos, downscaleFreqShift, scale, maxPeriod, dy)));
    }

    @Override
    public Tensor contiguous(Tensor x) {
        Tensor y = be.contiguous(x);
        if (!anyTracked(x)) return y;
        return record(y, dy -> accumulate(x, dy));
    }

    private static float[] filled(long n, float v) {
        float[] a = new float[Math.toIntExact(n)];
        Arrays.fill(a, v);
        return a;
    }
}
