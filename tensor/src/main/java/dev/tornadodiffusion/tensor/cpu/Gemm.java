package dev.tornadodiffusion.tensor.cpu;

import dev.tornadodiffusion.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * The one GEMM every matmul, linear and convolution goes through:
 * {@code C[M,N] = A[M,K] · B[K,N] (+ C)}, A and B any 2-D views (transposed strides, F16/BF16 weights).
 *
 * <p>GotoBLAS structure: the depth K is cut into blocks of {@link #KC}; for each block, panels of B
 * (KC x NR, columns interleaved) and of A (MR x KC, rows interleaved) are packed into contiguous
 * buffers, widening F16/BF16 to F32 on the way, so weights are never copied whole. Tiles of C are then
 * computed on all cores by a register-blocked MR x NR micro-kernel (12 vector accumulators, fma).
 * A tile's B panels stay in L2 while its A panels stream through L1.
 */
public final class Gemm {
    private Gemm() {}

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int V = S.length();
    /** Micro-tile: MR rows x NR columns of C held in 2 * MR vector registers (fits 16 registers on AVX2). */
    static final int MR = 6, NR = 2 * V;
    /** Depth block: an A micro-panel (MR x KC) stays in L1, a tile of B panels (KC x TILE_N) in L2. */
    static final int KC = 256;
    /** Rows of A and columns of B packed at once: bounds the packed buffers to a few MB. */
    static final int MC = 3072, NC = 4096;
    /** Largest tile one task computes; smaller tiles are used when there are few. */
    static final int TILE_M = 16 * MR, TILE_N = 16 * NR;

    /**
     * One GEMM operand as packing reads it: a matrix of "lanes" (rows of A, columns of B) by "depth"
     * (the summed dimension K).
     */
    public interface Operand {
        /**
         * Copies lanes {@code [lane0, lane0+lanes)} x depth {@code [depth0, depth0+depth)} to
         * {@code dst[off + p*width + l]} (depth-major, lanes interleaved), zero-filling lanes {@code lanes..width-1}.
         */
        void pack(int lane0, int lanes, int depth0, int depth, float[] dst, int off, int width);

        /** The rows of a 2-D tensor [M, K] as the A operand. */
        static Operand rows(Tensor a) { return TensorOperand.of(a, 0); }

        /** The columns of a 2-D tensor [K, N] as the B operand. */
        static Operand cols(Tensor b) { return TensorOperand.of(b, 1); }
    }

    /** c[cOffset + i*ldc + j] (+)= sum_p a[i,p] b[p,j] for 2-D views a [M,K] and b [K,N]. */
    public static void gemm(Tensor a, Tensor b, float[] c, int cOffset, int ldc, boolean accumulate) {
        if (a.rank() != 2 || b.rank() != 2 || a.dim(1) != b.dim(0))
            throw new IllegalArgumentException("gemm shapes " + Arrays.toString(a.shape()) + " x " + Arrays.toString(b.shape()));
        gemm(a.dim(0), b.dim(1), a.dim(1), Operand.rows(a), Operand.cols(b), c, cOffset, ldc, accumulate);
    }

    /** c[cOffset + i*ldc + j] (+)= sum_p A(i,p) B(p,j), with A [m,k] and B [k,n] read through packing. */
    public static void gemm(int m, int n, int k, Operand a, Operand b, float[] c, int cOffset, int ldc, boolean accumulate) {
        if (m <= 0 || n <= 0) return;
        if (k <= 0) {
            if (!accumulate) for (int i = 0; i < m; i++) Arrays.fill(c, cOffset + i * ldc, cOffset + i * ldc + n, 0f);
            return;
        }
        // Even depth blocks: 320 = 2 x 160 rather than 256 + 64.
        int kBlocks = ceilDiv(k, KC), kcMax = ceilDiv(k, kBlocks);
        int mcMax = Math.min(m, MC), ncMax = Math.min(n, NC);
        Buffers buf = BUFFERS.get().ensure(roundUp(mcMax, MR) * kcMax, roundUp(ncMax, NR) * kcMax);
        float[] ap = buf.a, bp = buf.b;
        for (int jc = 0; jc < n; jc += NC) {
            int nc = Math.min(NC, n - jc), nPanels = ceilDiv(nc, NR);
            for (int kb = 0; kb < kBlocks; kb++) {
                int pc = kb * k / kBlocks, kc = (kb + 1) * k / kBlocks - pc;
                int jc0 = jc, pc0 = pc;
                Parallel.forRange(nPanels, 4, (p0, p1) -> {
                    for (int jp = p0; jp < p1; jp++) b.pack(jc0 + jp * NR, Math.min(NR, nc - jp * NR), pc0, kc, bp, jp * NR * kc, NR);
                });
                boolean add = accumulate || kb > 0;
                for (int ic = 0; ic < m; ic += MC) {
                    int mc = Math.min(MC, m - ic), mPanels = ceilDiv(mc, MR), ic0 = ic;
                    Parallel.forRange(mPanels, 8, (p0, p1) -> {
                        for (int ip = p0; ip < p1; ip++) a.pack(ic0 + ip * MR, Math.min(MR, mc - ip * MR), pc0, kc, ap, ip * MR * kc, MR);
                    });
                    macro(mc, nc, kc, ap, bp, c, cOffset + ic * ldc + jc, ldc, add);
                }
            }
        }
    }

    /** C block [mc, nc] (+)= packed A block · packed B block, split into tiles over all cores. */
    private static void macro(int mc, int nc, int kc, float[] ap, float[] bp, float[] c, int cOffset, int ldc, boolean add) {
        int mPanels = ceilDiv(mc, MR), nPanels = ceilDiv(nc, NR);
        // Enough tiles to keep every core busy, each at least 2 x 2 micro-tiles.
        int tileN = Math.min(TILE_N / NR, nPanels), tileM = Math.min(TILE_M / MR, mPanels);
        while (ceilDiv(mPanels, tileM) * ceilDiv(nPanels, tileN) < 4 * Parallel.THREADS && (tileM > 2 || tileN > 2)) {
            if (tileM >= tileN && tileM > 2) tileM = ceilDiv(tileM, 2); else tileN = ceilDiv(tileN, 2);
        }
        int tilesM = ceilDiv(mPanels, tileM), tilesN = ceilDiv(nPanels, tileN), tm = tileM, tn = tileN;
        Parallel.forRange(tilesM * tilesN, 1, (t0, t1) -> {
            float[] edge = null;
            for (int t = t0; t < t1; t++) {
                // Consecutive tiles share their B panels, which stay in this core's L2.
                int ti = t % tilesM, tj = t / tilesM;
                int ip1 = Math.min(mPanels, (ti + 1) * tm), jp1 = Math.min(nPanels, (tj + 1) * tn);
                for (int ip = ti * tm; ip < ip1; ip++) {
                    int i = ip * MR, rows = Math.min(MR, mc - i);
                    for (int jp = tj * tn; jp < jp1; jp++) {
                        int j = jp * NR, cols = Math.min(NR, nc - j);
                        if (rows == MR && cols == NR) {
                            kernel(kc, ap, ip * MR * kc, MR, 1, bp, jp * NR * kc, c, cOffset + i * ldc + j, ldc, add);
                        } else {
                            if (edge == null) edge = new float[MR * NR];
                            kernel(kc, ap, ip * MR * kc, MR, 1, bp, jp * NR * kc, edge, 0, NR, false);
                            for (int r = 0; r < rows; r++) {
                                int co = cOffset + (i + r) * ldc + j;
                                for (int q = 0; q < cols; q++) c[co + q] = add ? c[co + q] + edge[r * NR + q] : edge[r * NR + q];
                            }
                        }
                    }
                }
            }
        });
    }

    /**
     * The micro-kernel: C[MR, NR] at {@code c[co + i*ldc + j]} (+)= A · B over depth {@code kc}, where
     * A(i, p) = {@code a[ao + p*aStep + i*aRow]} (packed: aStep = MR, aRow = 1; row-major: aStep = 1, aRow = lda)
     * and B(p, j) = {@code b[bo + p*NR + j]} (a packed panel).
     */
    static void kernel(int kc, float[] a, int ao, int aStep, int aRow, float[] b, int bo, float[] c, int co, int ldc, boolean add) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
                c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        int a1 = aRow, a2 = 2 * aRow, a3 = 3 * aRow, a4 = 4 * aRow, a5 = 5 * aRow;
        for (int p = 0; p < kc; p++) {
            int ai = ao + p * aStep, bi = bo + p * NR;
            FloatVector b0 = FloatVector.fromArray(S, b, bi), b1 = FloatVector.fromArray(S, b, bi + V);
            FloatVector x = FloatVector.broadcast(S, a[ai]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(S, a[ai + a1]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(S, a[ai + a2]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(S, a[ai + a3]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(S, a[ai + a4]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(S, a[ai + a5]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
        }
        // Written out (not a helper per row): a call here would exceed C2's inlining node budget and box every vector.
        int r0 = co, r1 = co + ldc, r2 = r1 + ldc, r3 = r2 + ldc, r4 = r3 + ldc, r5 = r4 + ldc;
        if (add) {
            c00 = c00.add(FloatVector.fromArray(S, c, r0)); c01 = c01.add(FloatVector.fromArray(S, c, r0 + V));
            c10 = c10.add(FloatVector.fromArray(S, c, r1)); c11 = c11.add(FloatVector.fromArray(S, c, r1 + V));
            c20 = c20.add(FloatVector.fromArray(S, c, r2)); c21 = c21.add(FloatVector.fromArray(S, c, r2 + V));
            c30 = c30.add(FloatVector.fromArray(S, c, r3)); c31 = c31.add(FloatVector.fromArray(S, c, r3 + V));
            c40 = c40.add(FloatVector.fromArray(S, c, r4)); c41 = c41.add(FloatVector.fromArray(S, c, r4 + V));
            c50 = c50.add(FloatVector.fromArray(S, c, r5)); c51 = c51.add(FloatVector.fromArray(S, c, r5 + V));
        }
        c00.intoArray(c, r0); c01.intoArray(c, r0 + V);
        c10.intoArray(c, r1); c11.intoArray(c, r1 + V);
        c20.intoArray(c, r2); c21.intoArray(c, r2 + V);
        c30.intoArray(c, r3); c31.intoArray(c, r3 + V);
        c40.intoArray(c, r4); c41.intoArray(c, r4 + V);
        c50.intoArray(c, r5); c51.intoArray(c, r5 + V);
    }

    static int ceilDiv(int a, int b) { return (a + b - 1) / b; }

    static int roundUp(int a, int b) { return ceilDiv(a, b) * b; }

    /** Packing buffers of the calling thread, kept between calls (a large GEMM needs several MB). */
    private static final ThreadLocal<Buffers> BUFFERS = ThreadLocal.withInitial(Buffers::new);

    private static final class Buffers {
        float[] a = new float[0], b = new float[0];

        Buffers ensure(int aSize, int bSize) {
            if (a.length < aSize) a = new float[aSize];
            if (b.length < bSize) b = new float[bSize];
            return this;
        }
    }
}
