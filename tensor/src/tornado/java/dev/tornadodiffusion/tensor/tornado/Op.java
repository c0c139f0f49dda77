package dev.tornadodiffusion.tensor.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.WorkerGrid3D;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import java.util.Arrays;

/**
 * One recorded operation: its operands, its settings and the dense F32 value it produces. {@link #emit} adds its
 * task(s) to a task graph; the fusion passes ({@link Fusion}) rewrite ops before that, so the fields are mutable.
 */
abstract class Op {
    Value out;

    /** Operands in a fixed order, null where absent. */
    abstract Ref[] operands();

    /** The settings that change what the op computes (for matching a replayed call against the recording). */
    abstract String params();

    abstract void emit(Plan.Builder pb);

    /** The values it produces: {@link #out}, for a fused GEMM also its siblings'. */
    Value[] outputs() { return new Value[]{out}; }

    /** How many tasks {@link #emit} adds. */
    int tasks() { return 1; }

    /** What the op computes and from what, with output {@code shape}: equal signatures, equal operations. */
    final String signature(int[] shape) {
        StringBuilder sb = new StringBuilder(getClass().getSimpleName()).append('(').append(params()).append(Arrays.toString(shape));
        for (Ref r : operands()) sb.append(' ').append(r == null ? "-" : r.describe());
        return sb.append(')').toString();
    }

    static int ceilDiv(int a, int b) { return (a + b - 1) / b; }

    static WorkerGrid grid1(int n, int local) {
        WorkerGrid w = new WorkerGrid1D(ceilDiv(n, local) * local);
        w.setLocalWork(local, 1, 1);
        return w;
    }

    static WorkerGrid grid3(int x, int y, int z, int lx, int ly) {
        WorkerGrid w = new WorkerGrid3D(x, y, z);
        w.setLocalWork(lx, ly, 1);
        return w;
    }

    /** {@code out = post(bin(a, pre(b))) * scale}; a and b are views of the output's shape (stride 0 where broadcast). */
    static final class Map extends Op {
        Ref a, b;
        int code;
        float scale, lo, hi;

        Map(Ref a, Ref b, int code, float scale) {
            this.a = a;
            this.b = b;
            this.code = code;
            this.scale = scale;
        }

        @Override Ref[] operands() { return new Ref[]{a, b}; }

        @Override String params() { return code + "," + scale + "," + lo + "," + hi; }

        /** The operands' strides over at most four dimensions; null when more are needed. */
        long[][] geometry() {
            long[] bs = b == null ? new long[a.shape.length] : b.strides;
            long[][] c = Views.coalesce(out.shape, Views.dense(out.shape), a.strides, bs);
            return c[0].length > 4 ? null : c;
        }

        @Override
        void emit(Plan.Builder pb) {
            long[][] c = geometry();
            int[] g = new int[Elementwise.MAP_GEO];
            int n = out.numel();
            g[Elementwise.N] = n;
            long[] shape = Views.padLeft(c[0], 4, 1), as = Views.padLeft(c[2], 4, 0), bs = Views.padLeft(c[3], 4, 0);
            g[Elementwise.S1] = (int) shape[1];
            g[Elementwise.S2] = (int) shape[2];
            g[Elementwise.S3] = (int) shape[3];
            g[Elementwise.A_OFF] = (int) a.offset;
            g[Elementwise.B_OFF] = b == null ? 0 : (int) b.offset;
            for (int i = 0; i < 4; i++) {
                g[Elementwise.A0 + i] = (int) as[i];
                g[Elementwise.B0 + i] = (int) bs[i];
            }
            boolean dense = c[0].length == 1 && c[2][0] == 1 && (b == null || c[3][0] == 1);
            g[Elementwise.DENSE] = dense ? 1 : 0;
            FloatArray bArr = b == null ? pb.noFloats() : pb.floats(b);
            String t = pb.task();
            pb.graph().task(t, Elementwise::map, new KernelContext(), pb.floats(a), bArr, pb.out(this), pb.ints(g), code, scale, lo, hi);
            pb.grid(t, grid1(n, pb.launch().elementwise()));
        }
    }

    /** Copies strided views into the output: one piece makes a view dense, several concatenate along {@code dim}. */
    static final class Copy extends Op {
        final Ref[] pieces;
        final int dim;

        Copy(int dim, Ref... pieces) {
            this.pieces = pieces;
            this.dim = dim;
        }

        @Override Ref[] operands() { return pieces; }

        @Override String params() { return Integer.toString(dim); }

        @Override int tasks() { return pieces.length; }

        @Override
        void emit(Plan.Builder pb) {
            long[] outStrides = Views.dense(out.shape);
            long at = 0;
            for (Ref p : pieces) {
                // one piece fills the output in its own row-major order (its shape may split the output's dims)
                long[][] c = Views.coalesce(p.shape, p.strides, pieces.length == 1 ? Views.dense(p.shape) : outStrides);
                if (c[0].length > Elementwise.RANK) throw new IllegalStateException("copy of a view with more than " + Elementwise.RANK + " dimensions: " + p.describe());
                int[] g = new int[Elementwise.COPY_GEO];
                long[] s = Views.padLeft(c[0], Elementwise.RANK, 1), ss = Views.padLeft(c[1], Elementwise.RANK, 0), ds = Views.padLeft(c[2], Elementwise.RANK, 0);
                for (int i = 0; i < Elementwise.RANK; i++) {
                    g[Elementwise.C_SHAPE + i] = (int) s[i];
                    g[Elementwise.C_SRC + i] = (int) ss[i];
                    g[Elementwise.C_DST + i] = (int) ds[i];
                }
                g[Elementwise.C_SRC_OFF] = (int) p.offset;
                g[Elementwise.C_DST_OFF] = (int) (at * (pieces.length == 1 ? 0 : outStrides[dim]));
                int n = Math.toIntExact(p.numel());
                g[Elementwise.C_N] = n;
                String t = pb.task();
                pb.graph().task(t, Elementwise::copy, new KernelContext(), pb.floats(p), pb.out(this), pb.ints(g));
                pb.grid(t, grid1(n, pb.launch().elementwise()));
                at += p.shape[dim];
            }
        }
    }

    /** Rows of a [V, D] table (any strides, F32 or raw 16-bit) picked by a 1-D view of ids. */
    static final class Gather extends Op {
        final Ref table, ids;

        Gather(Ref table, Ref ids) {
            this.table = table;
            this.ids = ids;
        }

        @Override Ref[] operands() { return new Ref[]{table, ids}; }

        @Override String params() { return ""; }

        @Override
        void emit(Plan.Builder pb) {
            int n = ids.shape[0], d = table.shape[1];
            int[] g = new int[Elementwise.GATHER_GEO];
            g[Elementwise.G_N] = n;
            g[Elementwise.G_D] = d;
            g[Elementwise.IDS_OFF] = (int) ids.offset;
            g[Elementwise.IDS_STRIDE] = (int) ids.strides[0];
            g[Elementwise.TAB_OFF] = (int) table.offset;
            g[Elementwise.TAB_RS] = (int) table.strides[0];
            g[Elementwise.TAB_CS] = (int) table.strides[1];
            int format = pb.format(table);
            String t = pb.task();
            pb.graph().task(t, Elementwise::gather, new KernelContext(), format == Gemm.F32 ? pb.floats(table) : pb.noFloats(),
                    format == Gemm.F32 ? pb.noShorts() : pb.shorts(table), pb.table(format), pb.floats(ids), pb.out(this), pb.ints(g), format);
            pb.grid(t, grid1(n * d, pb.launch().elementwise()));
        }
    }

    /** Zero padding of the last two dimensions of a dense input. */
    static final class Pad extends Op {
        final Ref x;
        final int left, right, top, bottom;

        Pad(Ref x, int left, int right, int top, int bottom) {
            this.x = x;
            this.left = left;
            this.right = right;
            this.top = top;
            this.bottom = bottom;
        }

        @Override Ref[] operands() { return new Ref[]{x}; }

        @Override String params() { return left + "," + right + "," + top + "," + bottom; }

        @Override
        void emit(Plan.Builder pb) {
            int r = x.shape.length, h = x.shape[r - 2], w = x.shape[r - 1];
            int n = out.numel();
            int[] g = new int[Elementwise.PAD_GEO];
            g[Elementwise.P_N] = n;
            g[Elementwise.P_OFF] = (int) x.offset;
            g[Elementwise.P_H] = h;
            g[Elementwise.P_W] = w;
            g[Elementwise.P_OH] = h + top + bottom;
            g[Elementwise.P_OW] = w + left + right;
            g[Elementwise.P_TOP] = top;
            g[Elementwise.P_LEFT] = left;
            String t = pb.task();
            pb.graph().task(t, Elementwise::pad, new KernelContext(), pb.floats(x), pb.out(this), pb.ints(g));
            pb.grid(t, grid1(n, pb.launch().elementwise()));
        }
    }

    /** Sinusoidal timestep embedding of a 1-D view of timesteps; {@code freqs} computed on the host. */
    static final class Timestep extends Op {
        final Ref t;
        final int dim;
        final boolean flip;
        final float scale;
        final float[] freqs;

        Timestep(Ref t, int dim, boolean flip, float scale, float[] freqs) {
            this.t = t;
            this.dim = dim;
            this.flip = flip;
            this.scale = scale;
            this.freqs = freqs;
        }

        @Override Ref[] operands() { return new Ref[]{t}; }

        @Override String params() { return dim + "," + flip + "," + scale + "," + Arrays.hashCode(freqs); }

        @Override
        void emit(Plan.Builder pb) {
            int rows = t.shape.length == 0 ? 1 : t.shape[0];
            int stride = t.shape.length == 0 ? 0 : (int) t.strides[0];
            String task = pb.task();
            int[] g = new int[Elementwise.TIMESTEP_GEO];
            g[Elementwise.T_ROWS] = rows;
            g[Elementwise.T_OFF] = (int) t.offset;
            g[Elementwise.T_STRIDE] = stride;
            g[Elementwise.T_DIM] = dim;
            pb.graph().task(task, Elementwise::timestep, new KernelContext(), pb.floats(t), pb.constant(freqs), pb.out(this), pb.ints(g), flip ? 1 : 0, scale);
            pb.grid(task, grid1(rows * (dim / 2), pb.launch().elementwise()));
        }
    }

    /**
     * {@code C[z] = (act(A[z]) B[z] + bias + R[z]) * scale}: a [batch, M, K], b [batch, K, N] and res [batch, M, N]
     * are strided views (stride 0 over a broadcast batch), bias [N].
     */
    static final class MatMul extends Op {
        Ref a, b, bias, res;
        int act;
        float scale = 1f;
        Value[] siblings = new Value[0];     // further outputs: b holds their weights after this op's, each partN wide
        int partN;

        MatMul(Ref a, Ref b, Ref bias) {
            this.a = a;
            this.b = b;
            this.bias = bias;
        }

        int batch() { return a.shape[0]; }

        int m() { return a.shape[1]; }

        int n() { return b.shape[2]; }

        @Override Ref[] operands() { return new Ref[]{a, b, bias, res}; }

        @Override String params() { return act + "," + scale; }

        @Override
        Value[] outputs() {
            Value[] all = new Value[1 + siblings.length];
            all[0] = out;
            System.arraycopy(siblings, 0, all, 1, siblings.length);
            return all;
        }

        @Override
        void emit(Plan.Builder pb) {
            int[] g = new int[Gemm.GEO];
            g[Gemm.PARTS] = 1 + siblings.length;
            g[Gemm.PART_N] = siblings.length == 0 ? n() : partN;
            g[Gemm.M] = m();
            g[Gemm.N] = n();
            g[Gemm.K] = a.shape[2];
            g[Gemm.A_OFF] = (int) a.offset;
            g[Gemm.A_BS] = (int) a.strides[0];
            g[Gemm.A_RS] = (int) a.strides[1];
            g[Gemm.A_CS] = (int) a.strides[2];
            g[Gemm.B_OFF] = (int) b.offset;
            g[Gemm.B_BS] = (int) b.strides[0];
            g[Gemm.B_RS] = (int) b.strides[1];
            g[Gemm.B_CS] = (int) b.strides[2];
            if (bias != null) {
                g[Gemm.BIAS] = 1;
                g[Gemm.BIAS_OFF] = (int) bias.offset;
            }
            if (res != null) {
                g[Gemm.RES] = 1;
                g[Gemm.R_OFF] = (int) res.offset;
                g[Gemm.R_BS] = (int) res.strides[0];
                g[Gemm.R_RS] = (int) res.strides[1];
                g[Gemm.R_CS] = (int) res.strides[2];
            }
            int format = pb.format(b);
            Launch l = pb.launch();
            int nt = l.tile() / l.micro();
            String t = pb.task();
            FloatArray biasArr = bias == null ? pb.noFloats() : pb.floats(bias), resArr = res == null ? pb.noFloats() : pb.floats(res);
            FloatArray c1 = siblings.length > 0 ? siblings[0].buffer : pb.noOutput(0), c2 = siblings.length > 1 ? siblings[1].buffer : pb.noOutput(1);
            if (format == Gemm.HALF)
                pb.graph().task(t, Gemm::gemmHalf, new KernelContext(), pb.floats(a), pb.halves(b), biasArr, resArr, pb.out(this), c1, c2,
                        pb.ints(g), l.tile(), l.micro(), l.ktile(), act, scale);
            else
                pb.graph().task(t, Gemm::gemm, new KernelContext(), pb.floats(a),
                        format == Gemm.F32 ? pb.floats(b) : pb.noFloats(), format == Gemm.F32 ? pb.noShorts() : pb.shorts(b), pb.table(format),
                        biasArr, resArr, pb.out(this), c1, c2, pb.ints(g), l.tile(), l.micro(), l.ktile(), format, act, scale);
            pb.grid(t, grid3(ceilDiv(n(), l.tile()) * nt, ceilDiv(m(), l.tile()) * nt, batch(), nt, nt));
        }
    }

    /** 2-D convolution of a dense NCHW input, weight dense [OC, ICG, KH, KW]; {@code (conv + bias + res) * scale}. */
    static final class Conv extends Op {
        final Ref x, w, bias;
        Ref res;            // [N, OC, OH*OW] view
        float scale = 1f;
        final int stride, padding, groups;

        Conv(Ref x, Ref w, Ref bias, int stride, int padding, int groups) {
            this.x = x;
            this.w = w;
            this.bias = bias;
            this.stride = stride;
            this.padding = padding;
            this.groups = groups;
        }

        @Override Ref[] operands() { return new Ref[]{x, w, bias, res}; }

        @Override String params() { return stride + "," + padding + "," + groups + "," + scale; }

        boolean depthwise() { return w.shape[1] == 1 && groups > 1; }

        @Override
        void emit(Plan.Builder pb) {
            int[] g = new int[Conv2d.GEO];
            g[Conv2d.C] = x.shape[1];
            g[Conv2d.H] = x.shape[2];
            g[Conv2d.W] = x.shape[3];
            g[Conv2d.OC] = w.shape[0];
            g[Conv2d.ICG] = w.shape[1];
            g[Conv2d.KH] = w.shape[2];
            g[Conv2d.KW] = w.shape[3];
            g[Conv2d.STRIDE] = stride;
            g[Conv2d.PAD] = padding;
            g[Conv2d.OH] = out.shape[2];
            g[Conv2d.OW] = out.shape[3];
            g[Conv2d.GROUPS] = groups;
            g[Conv2d.X_OFF] = (int) x.offset;
            g[Conv2d.W_OFF] = (int) w.offset;
            if (bias != null) {
                g[Conv2d.BIAS] = 1;
                g[Conv2d.BIAS_OFF] = (int) bias.offset;
            }
            if (res != null) {
                g[Conv2d.RES] = 1;
                g[Conv2d.R_OFF] = (int) res.offset;
                g[Conv2d.R_BS] = (int) res.strides[0];
                g[Conv2d.R_RS] = (int) res.strides[1];
                g[Conv2d.R_CS] = (int) res.strides[2];
            }
            int n = out.numel();
            g[Conv2d.OUTPUTS] = n;
            FloatArray biasArr = bias == null ? pb.noFloats() : pb.floats(bias), resArr = res == null ? pb.noFloats() : pb.floats(res);
            String t = pb.task();
            Launch l = pb.launch();
            if (depthwise()) {
                pb.graph().task(t, Conv2d::depthwise, new KernelContext(), pb.floats(x), pb.floats(w), biasArr, resArr, pb.out(this), pb.ints(g), scale);
                pb.grid(t, grid1(n, l.elementwise()));
                return;
            }
            int format = pb.format(w);
            int nt = l.tile() / l.micro();
            if (format == Gemm.HALF)
                pb.graph().task(t, Conv2d::convHalf, new KernelContext(), pb.floats(x), pb.halves(w), biasArr, resArr, pb.out(this), pb.ints(g),
                        l.tile(), l.micro(), l.ktile(), scale);
            else
                pb.graph().task(t, Conv2d::conv, new KernelContext(), pb.floats(x),
                        format == Gemm.F32 ? pb.floats(w) : pb.noFloats(), format == Gemm.F32 ? pb.noShorts() : pb.shorts(w), pb.table(format),
                        biasArr, resArr, pb.out(this), pb.ints(g), l.tile(), l.micro(), l.ktile(), format, scale);
            int ocg = w.shape[0] / groups;
            pb.grid(t, grid3(ceilDiv(out.shape[2] * out.shape[3], l.tile()) * nt, ceilDiv(ocg, l.tile()) * nt, x.shape[0] * groups, nt, nt));
        }
    }

    /** Fused attention; q, k, v are [B, N, H*D] views with unit stride inside a row. */
    static final class Attend extends Op {
        final Ref q, k, v;
        final int heads;
        final boolean causal;

        Attend(Ref q, Ref k, Ref v, int heads, boolean causal) {
            this.q = q;
            this.k = k;
            this.v = v;
            this.heads = heads;
            this.causal = causal;
        }

        @Override Ref[] operands() { return new Ref[]{q, k, v}; }

        @Override String params() { return heads + "," + causal; }

        @Override
        void emit(Plan.Builder pb) {
            int b = q.shape[0], nq = q.shape[1], nk = k.shape[1], d = q.shape[2] / heads, dv = v.shape[2] / heads;
            int[] g = new int[Attention.GEO];
            g[Attention.B] = b;
            g[Attention.NQ] = nq;
            g[Attention.NK] = nk;
            g[Attention.HEADS] = heads;
            g[Attention.Q_OFF] = (int) q.offset;
            g[Attention.Q_BS] = (int) q.strides[0];
            g[Attention.Q_RS] = (int) q.strides[1];
            g[Attention.K_OFF] = (int) k.offset;
            g[Attention.K_BS] = (int) k.strides[0];
            g[Attention.K_RS] = (int) k.strides[1];
            g[Attention.V_OFF] = (int) v.offset;
            g[Attention.V_BS] = (int) v.strides[0];
            g[Attention.V_RS] = (int) v.strides[1];
            g[Attention.CAUSAL] = causal ? 1 : 0;
            Launch l = pb.launch();
            float scale = (float) (1.0 / Math.sqrt(d));
            String t = pb.task();
            pb.graph().task(t, Attention::attention, new KernelContext(), pb.floats(q), pb.floats(k), pb.floats(v), pb.out(this), pb.ints(g),
                    d, dv, l.keys(), l.queries(), scale);
            pb.grid(t, grid3(ceilDiv(nq, l.queries()) * l.queries(), heads, b, l.queries(), 1));
        }
    }

    /** GroupNorm (+ SiLU) of a dense [N, C, ...] input, each group split into {@code parts} for enough work-groups. */
    static final class GroupNorm extends Op {
        final Ref x, gamma, beta;
        final int groups, parts, chunk;
        final float eps;
        final boolean silu;

        GroupNorm(Ref x, Ref gamma, Ref beta, int groups, float eps, boolean silu, Launch launch) {
            this.x = x;
            this.gamma = gamma;
            this.beta = beta;
            this.groups = groups;
            this.eps = eps;
            this.silu = silu;
            int n = x.shape[0], len = Math.toIntExact(x.numel() / ((long) n * groups));
            // enough work-groups to fill the device, each part at least one work-group wide
            int p = Math.max(1, Math.min(ceilDiv(launch.reduceGroups(), n * groups), ceilDiv(len, launch.reduce())));
            this.chunk = ceilDiv(len, p);
            this.parts = ceilDiv(len, chunk);       // no empty part
        }

        @Override Ref[] operands() { return new Ref[]{x, gamma, beta}; }

        @Override String params() { return groups + "," + eps + "," + silu; }

        /** Statistics first when a group is split, then the normalisation. */
        @Override int tasks() { return parts == 1 ? 1 : 2; }

        @Override
        void emit(Plan.Builder pb) {
            int n = x.shape[0], c = x.shape[1], spatial = Math.toIntExact(x.numel() / ((long) n * c));
            boolean affine = gamma != null && beta != null;
            int ls = pb.launch().reduce();
            int[] g = new int[Norms.GN_GEO];
            g[Norms.X_OFF] = (int) x.offset;
            g[Norms.GROUPS] = groups;
            g[Norms.CG] = c / groups;
            g[Norms.SPATIAL] = spatial;
            g[Norms.PARTS] = parts;
            g[Norms.CHUNK] = chunk;
            IntArray geo = pb.ints(g);
            FloatArray part = parts == 1 ? pb.noFloats() : pb.scratch(2 * n * groups * parts);
            if (parts > 1) {
                String stats = pb.task();
                pb.graph().task(stats, Norms::groupStats, new KernelContext(), pb.floats(x), part, geo, ls);
                pb.grid(stats, grid1(n * groups * parts * ls, ls));
            }
            String t = pb.task();
            pb.graph().task(t, Norms::groupNorm, new KernelContext(), pb.floats(x), affine ? pb.floats(gamma) : pb.noFloats(),
                    affine ? pb.floats(beta) : pb.noFloats(), part, pb.out(this), geo, affine ? 1 : 0, silu ? 1 : 0, eps, ls);
            pb.grid(t, grid1(n * groups * parts * ls, ls));
        }
    }

    /** LayerNorm or softmax over the last dimension of rows with unit inner stride and one row stride. */
    static final class RowNorm extends Op {
        final Ref x, gamma, beta;
        final boolean softmax;
        final float eps;

        RowNorm(Ref x, Ref gamma, Ref beta, float eps, boolean softmax) {
            this.x = x;
            this.gamma = gamma;
            this.beta = beta;
            this.eps = eps;
            this.softmax = softmax;
        }

        @Override Ref[] operands() { return new Ref[]{x, gamma, beta}; }

        @Override String params() { return eps + "," + softmax; }

        @Override
        void emit(Plan.Builder pb) {
            int rows = x.shape[0], d = x.shape[1], rs = (int) x.strides[0];
            // about four elements per thread: short rows do not leave most of a wide work-group idle
            int ls = Math.min(pb.launch().reduce(), Integer.highestOneBit(Math.max(1, ceilDiv(d, 4) * 2 - 1)));
            String t = pb.task();
            int[] g = new int[Norms.ROW_GEO];
            g[Norms.R_OFF] = (int) x.offset;
            g[Norms.R_STRIDE] = rs;
            g[Norms.R_LEN] = d;
            if (softmax) {
                pb.graph().task(t, Norms::softmax, new KernelContext(), pb.floats(x), pb.out(this), pb.ints(g), ls);
            } else {
                pb.graph().task(t, Norms::layerNorm, new KernelContext(), pb.floats(x), gamma == null ? pb.noFloats() : pb.floats(gamma),
                        beta == null ? pb.noFloats() : pb.floats(beta), pb.out(this), pb.ints(g), gamma == null ? 0 : 1, beta == null ? 0 : 1, eps, ls);
            }
            pb.grid(t, grid1(rows * ls, ls));
        }
    }
}
