package dev.tornadodiffusion.tensor.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
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

    /**
     * The CPU backend's unary functions, in float arithmetic only: many GPUs run double precision at a small
     * fraction of the float rate, and the PTX backend narrows double transcendentals to f32 anyway.
     */
    static float unary(float v, int op, float lo, float hi) {
        if (op == CLAMP) return Math.min(Math.max(v, lo), hi);
        return unary(v, op);
    }

    static float unary(float v, int op) {
        if (op == EXP) return TornadoMath.exp(v);
        if (op == SIN) return sin(v);
        if (op == COS) return cos(v);
        if (op == SILU) return v / (1f + TornadoMath.exp(-v));
        if (op == GELU) return 0.5f * v * (1f + erf(v * 0.70710677f));
        if (op == GELU_TANH) return 0.5f * v * (1f + TornadoMath.tanh(0.7978846f * (v + 0.044715f * v * v * v)));
        if (op == QUICK_GELU) return v / (1f + TornadoMath.exp(-1.702f * v));
        return v;
    }

    static float binary(float a, float b, int op) {
        if (op == ADD) return a + b;
        if (op == SUB) return a - b;
        if (op == MUL) return a * b;
        return a;
    }

    // 2 pi split for Cody-Waite reduction: P1 has 8 significant bits and P2 12, so k * P1 and k * P2 are exact
    // for |k| < 2^12 (|x| up to about 25000)
    private static final float INV_2PI = 0.15915494f, P1 = 6.28125f, P2 = 0.0019354820f, P3 = -1.7484555e-7f;

    /**
     * x minus the nearest multiple of 2 pi. OpenCL devices compile sin/cos as native_sin/native_cos (fast, but only
     * accurate near [-pi, pi]); timestep and sinusoidal embeddings take arguments up to several thousand.
     */
    static float reduce2pi(float x) {
        int k = (int) (x * INV_2PI + (x >= 0f ? 0.5f : -0.5f));
        float kf = k;
        return ((x - kf * P1) - kf * P2) - kf * P3;
    }

    static float sin(float x) { return TornadoMath.sin(reduce2pi(x)); }

    static float cos(float x) { return TornadoMath.cos(reduce2pi(x)); }

    /**
     * erf with W. J. Cody's rational approximations, as cpu/Erf, evaluated in float and with {@code exp(-x^2)}
     * taken directly (TornadoVM cannot compile the {@code Math.floor} the host version uses to split x);
     * about 1e-7 absolute error, far inside float model tolerances.
     */
    static float erf(float x) {
        float ax = Math.abs(x);
        if (ax < 0.5f) {
            float t = x * x;
            float top = (((0.18577771f * t + 3.1611238f) * t + 113.86415f) * t + 377.48523f) * t + 3209.3777f;
            float bot = (((t + 23.60129f) * t + 244.02464f) * t + 1282.6165f) * t + 2844.2368f;
            return x * top / bot;
        }
        float r;
        if (ax < 4f) {
            float top = (((((((2.1531154e-8f * ax + 0.5641885f) * ax + 8.883149f) * ax + 66.11919f) * ax
                    + 298.63513f) * ax + 881.9522f) * ax + 1712.0476f) * ax + 2051.0784f) * ax + 1230.3394f;
            float bot = (((((((ax + 15.744926f) * ax + 117.69395f) * ax + 537.1811f) * ax + 1621.3896f) * ax
                    + 3290.7993f) * ax + 4362.619f) * ax + 3439.3677f) * ax + 1230.3394f;
            r = top / bot;
        } else {
            float z = 1f / (ax * ax);
            float top = ((((0.016315388f * z + 0.30532664f) * z + 0.3603449f) * z + 0.12578173f) * z + 0.016083784f) * z + 6.5874914e-4f;
            float bot = ((((z + 2.5685203f) * z + 1.8729528f) * z + 0.52790510f) * z + 0.060518343f) * z + 0.002335205f;
            r = (0.5641896f - z * top / bot) / ax;
        }
        float erfc = TornadoMath.exp(-ax * ax) * r;
        return x < 0f ? erfc - 1f : 1f - erfc;
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
            float sin = sin(arg), cos = cos(arg);
            int o = r * dim;
            out.set(o + f, flip == 1 ? cos : sin);
            out.set(o + half + f, flip == 1 ? sin : cos);
            if (f == 0 && dim % 2 == 1) out.set(o + dim - 1, 0f);
        }
    }
}
