package dev.tornadodiffusion.tensor.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.arrays.ShortArray;

/**
 * Element-wise kernels: one fused map {@code out = post(bin(a, pre(b))) * scale} over broadcast strided
 * operands (every unary and binary op of the backend and their chains), the strided copy that materialises
 * views (contiguous, concat pieces, nearest upsampling as a copy with zero strides), row gathers (embeddings),
 * zero padding and the sinusoidal timestep embedding. The formulas are the CPU backend's (cpu/Elementwise), written so that
 * TornadoVM compiles them: the op codes are scalars, which TornadoVM folds into the kernel, so each task
 * keeps only its own branch.
 */
final class Elementwise {
    private Elementwise() {}

    // unary functions (pre and post); CLAMP takes its bounds from the kernel's lo and hi
    static final int ID = 0, SILU = 1, GELU = 2, GELU_TANH = 3, QUICK_GELU = 4, EXP = 5, SIN = 6, COS = 7, CLAMP = 8;
    // binary functions: FIRST ignores b
    static final int FIRST = 0, ADD = 1, SUB = 2, MUL = 3;

    static int code(int pre, int bin, int post) { return pre + 16 * bin + 64 * post; }

    static int pre(int code) { return code % 16; }

    static int bin(int code) { return code / 16 % 4; }

    static int post(int code) { return code / 64; }

    /** The CPU backend's unary functions. */
    static float unary(float v, int op, float lo, float hi) {
        if (op == CLAMP) return Math.min(Math.max(v, lo), hi);
        return unary(v, op);
    }

    static float unary(float v, int op) {
        if (op == EXP) return (float) Math.exp(v);
        if (op == SIN) return (float) Math.sin(v);
        if (op == COS) return (float) Math.cos(v);
        if (op == SILU) return v / (1f + (float) Math.exp(-v));
        if (op == GELU) return (float) (0.5 * v * (1.0 + erf(v / Math.sqrt(2.0))));
        if (op == GELU_TANH) return (float) (0.5 * v * (1.0 + Math.tanh(Math.sqrt(2.0 / Math.PI) * (v + 0.044715 * v * v * v))));
        if (op == QUICK_GELU) return v / (1f + (float) Math.exp(-1.702f * v));
        return v;
    }

    static float binary(float a, float b, int op) {
        if (op == ADD) return a + b;
        if (op == SUB) return a - b;
        if (op == MUL) return a * b;
        return a;
    }

    /**
     * erf to double precision with W. J. Cody's rational approximations, as cpu/Erf, but with
     * {@code exp(-x^2)} taken directly: TornadoVM cannot compile the {@code Math.floor} that the
     * host version uses to split x, and the direct form is exact enough for float results.
     */
    static double erf(double x) {
        double ax = Math.abs(x);
        if (ax < 0.5) {
            double t = x * x;
            double top = (((0.1857777061846032 * t + 3.161123743870566) * t + 113.86415415105016) * t + 377.485237685302) * t + 3209.3775891384694;
            double bot = (((t + 23.601290952344122) * t + 244.02463793444417) * t + 1282.6165260773723) * t + 2844.2368334391704;
            return x * top / bot;
        }
        double r;
        if (ax < 4) {
            double top = (((((((2.1531153547440383e-8 * ax + 0.5641884969886701) * ax + 8.883149794388377) * ax + 66.11919063714163) * ax
                    + 298.6351381974001) * ax + 881.952221241769) * ax + 1712.0476126340707) * ax + 2051.0783778260716) * ax + 1230.3393547979972;
            double bot = (((((((ax + 15.744926110709835) * ax + 117.6939508913125) * ax + 537.1811018620099) * ax + 1621.3895745666903) * ax
                    + 3290.799235733460) * ax + 4362.619090143247) * ax + 3439.3676741437216) * ax + 1230.3393548037495;
            r = top / bot;
        } else {
            double z = 1 / (ax * ax);
            double top = ((((0.016315387137302097 * z + 0.30532663496123236) * z + 0.36034489994980445) * z + 0.12578172611122926) * z
                    + 0.016083785148742275) * z + 6.587491615298378e-4;
            double bot = ((((z + 2.568520192289822) * z + 1.8729528499234604) * z + 0.5279051029514285) * z + 0.06051834131244132) * z
                    + 0.0023352049762686918;
            r = (0.5641895835477563 - z * top / bot) / ax;
        }
        double erfc = Math.exp(-ax * ax) * r;
        return x < 0 ? erfc - 1 : 1 - erfc;
    }

    // geometry of map: the output is dense [n], viewed as [n / (s1 s2 s3), s1, s2, s3]
    static final int S1 = 0, S2 = 1, S3 = 2, A_OFF = 3, A0 = 4, B_OFF = 8, B0 = 9, DENSE = 13, N = 14, MAP_GEO = 15;

    /**
     * {@code out[i] = post(bin(a[ia], pre(b[ib]))) * scale} for i < n, where ia and ib follow each operand's
     * offset and strides over a 4-D view of the output (stride 0 where broadcast). With {@code DENSE} set
     * both operands are dense from their offsets and the index arithmetic is skipped.
     */
    static void map(KernelContext kc, FloatArray a, FloatArray b, FloatArray out, IntArray g, int code, float scale, float lo, float hi) {
        int i = kc.globalIdx;
        if (i < g.get(N)) {
            int ia, ib;
            if (g.get(DENSE) == 1) {
                ia = g.get(A_OFF) + i;
                ib = g.get(B_OFF) + i;
            } else {
                int s1 = g.get(S1), s2 = g.get(S2), s3 = g.get(S3);
                int c3 = i % s3, r = i / s3;
                int c2 = r % s2;
                r = r / s2;
                int c1 = r % s1, c0 = r / s1;
                ia = g.get(A_OFF) + c0 * g.get(A0) + c1 * g.get(A0 + 1) + c2 * g.get(A0 + 2) + c3 * g.get(A0 + 3);
                ib = g.get(B_OFF) + c0 * g.get(B0) + c1 * g.get(B0 + 1) + c2 * g.get(B0 + 2) + c3 * g.get(B0 + 3);
            }
            float x = a.get(ia);
            float y = 0f;
            if (bin(code) != FIRST) y = unary(b.get(ib), pre(code), lo, hi);
            out.set(i, unary(binary(x, y, bin(code)), post(code), lo, hi) * scale);
        }
    }

    // geometry of copy: a 6-D view, source and destination strides
    static final int RANK = 6, C_SHAPE = 0, C_SRC_OFF = 6, C_SRC = 7, C_DST_OFF = 13, C_DST = 14, C_N = 20, COPY_GEO = 21;

    /** {@code dst[view] = src[view]} element by element over a 6-D index space. */
    static void copy(KernelContext kc, FloatArray src, FloatArray dst, IntArray g) {
        int i = kc.globalIdx;
        if (i < g.get(C_N)) {
            int r = i, si = g.get(C_SRC_OFF), di = g.get(C_DST_OFF);
            for (int d = RANK - 1; d >= 0; d--) {
                int s = g.get(C_SHAPE + d);
                int c = r % s;
                r = r / s;
                si += c * g.get(C_SRC + d);
                di += c * g.get(C_DST + d);
            }
            dst.set(di, src.get(si));
        }
    }

    // geometry of gather: ids read at IDS_OFF + i * IDS_STRIDE; table row r, column j at TAB_OFF + r * TAB_RS + j * TAB_CS
    static final int G_N = 0, G_D = 1, IDS_OFF = 2, IDS_STRIDE = 3, TAB_OFF = 4, TAB_RS = 5, TAB_CS = 6, GATHER_GEO = 7;

    /** {@code out[i, j] = table[ids[i], j]}: rows picked by ids (integers held as floats), F32 or raw 16-bit table. */
    static void gather(KernelContext kc, FloatArray table, ShortArray tableBits, FloatArray tab, FloatArray ids, FloatArray out, IntArray g, int format) {
        int e = kc.globalIdx, d = g.get(G_D);
        if (e < g.get(G_N) * d) {
            int i = e / d, j = e % d;
            int row = (int) ids.get(g.get(IDS_OFF) + i * g.get(IDS_STRIDE));
            int idx = g.get(TAB_OFF) + row * g.get(TAB_RS) + j * g.get(TAB_CS);
            out.set(e, format == Gemm.F32 ? table.get(idx) : Gemm.widen(tableBits.get(idx), tab, format));
        }
    }

    // geometry of pad
    static final int P_N = 0, P_OFF = 1, P_H = 2, P_W = 3, P_OH = 4, P_OW = 5, P_TOP = 6, P_LEFT = 7, PAD_GEO = 8;

    /** Zero padding of the last two dimensions: x dense [planes, h, w] from its offset -> out [planes, oh, ow]. */
    static void pad(KernelContext kc, FloatArray x, FloatArray out, IntArray g) {
        int i = kc.globalIdx;
        if (i < g.get(P_N)) {
            int xOff = g.get(P_OFF), h = g.get(P_H), w = g.get(P_W), oh = g.get(P_OH), ow = g.get(P_OW), top = g.get(P_TOP), left = g.get(P_LEFT);
            int ox = i % ow, oy = i / ow % oh, p = i / (ow * oh);
            int y = oy - top, xx = ox - left;
            float v = 0f;
            if (y >= 0 && y < h && xx >= 0 && xx < w) v = x.get(xOff + (p * h + y) * w + xx);
            out.set(i, v);
        }
    }

    /**
     * diffusers' get_timestep_embedding: out[r, i] = sin/cos(scale * (t[r] * freqs[i])) as the CPU backend
     * computes it; the frequencies come from the host (they depend only on the op's settings).
     */
    static final int T_ROWS = 0, T_OFF = 1, T_STRIDE = 2, T_DIM = 3, TIMESTEP_GEO = 4;

    static void timestep(KernelContext kc, FloatArray t, FloatArray freqs, FloatArray out, IntArray g, int flip, float scale) {
        int i = kc.globalIdx, dim = g.get(T_DIM), half = dim / 2, tOff = g.get(T_OFF), tStride = g.get(T_STRIDE);
        if (i < g.get(T_ROWS) * half) {
            int r = i / half, f = i % half;
            float arg = scale * (t.get(tOff + r * tStride) * freqs.get(f));
            float sin = (float) Math.sin(arg), cos = (float) Math.cos(arg);
            int o = r * dim;
            out.set(o + f, flip == 1 ? cos : sin);
            out.set(o + half + f, flip == 1 ? sin : cos);
            if (f == 0 && dim % 2 == 1) out.set(o + dim - 1, 0f);
        }
    }
}
