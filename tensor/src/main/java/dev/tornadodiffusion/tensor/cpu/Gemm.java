package dev.tornadodiffusion.tensor.cpu;

import dev.tornadodiffusion.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * The one GEMM every matmul, linear and convolution goes through:
 * {@code C[M,N] = A[M,K] · B[K,N] (+ C)}, A and B any 2-D views (transposed strides, F16/BF16 weights).
 *
 * <p>GotoBLAS structure. The depth K is cut into even blocks of at most {@link #KC}. Panels of B
 * (KC x NR, columns interleaved) and of A (MR x KC: rows one after another when A's rows are contiguous,
 * else interleaved) are packed into contiguous buffers, widening F16/BF16 to F32 on the way, so weights are
 * never copied whole; a row-major F32 A on the heap (activations) is read in place. Then tiles of C are computed on all cores by a register-blocked
 * MR x NR micro-kernel (12 vector accumulators, fma): per depth block, each A micro-panel stays in L1
 * while the tile's B panels stream from L2. One parallel phase packs, one computes: two barriers per
 * block of {@link #PACKED} floats, which matters on a machine whose cores are shared.
 */
public final class Gemm {
    private Gemm() {}

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int V = S.length();
    /** Micro-tile: MR rows x NR columns of C held in 2 * MR vector registers (fits 16 registers on AVX2). */
    static final int MR = 6, NR = 2 * V;
    /** Depth block: an A micro-panel (MR x KC) stays in L1, a tile's B panels (KC x TILE_N) in L2. */
    static final int KC = 256;
    /** Floats of A, and of B, packed at once (all of K): bounds the packing buffers to 8 MB each. */
    static final int PACKED = 1 << 21;
    /** Largest tile one task computes; smaller tiles are used when there are few. */
    static final int TILE_M = 16 * MR, TILE_N = 16 * NR;
    /** Work below which a task is not split further: about 10 microseconds. */
    private static final double TASK_FLOPS = 1e6;

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
        int kBlocks = ceilDiv(k, KC);
        int[] depth = new int[kBlocks + 1];
        for (int kb = 0; kb <= kBlocks; kb++) depth[kb] = (int) ((long) kb * k / kBlocks);
        TensorOperand direct = a instanceof TensorOperand t && t.rowMajorF32() ? t : null;
        // An A whose rows are contiguous (weights of any dtype, mapped or not) is packed row by row, and the kernel
        // reads its panels as it reads a row-major A in place; a transposing pack cost as much as the multiply for
        // the 8x8 and 4x4 UNet convolutions, whose 1280-2560-channel weights are packed again on every call.
        TensorOperand aRows = a instanceof TensorOperand t && t.depthContiguous() ? t : null;
        int mcB = Math.min(m, Math.max(MR, PACKED / k / MR * MR)), ncB = Math.min(n, Math.max(NR, PACKED / k / NR * NR));
        Buffers buf = BUFFERS.get().ensure((direct == null ? roundUp(mcB, MR) : MR) * k, roundUp(ncB, NR) * k);
        for (int jc = 0; jc < n; jc += ncB) {
            for (int ic = 0; ic < m; ic += mcB) {
                Block blk = new Block(a, b, direct, aRows, depth, ic, Math.min(mcB, m - ic), jc, Math.min(ncB, n - jc), buf.a, buf.b);
                blk.pack(direct == null ? (mcB < m || jc == 0) : blk.mc % MR != 0, ic == 0);
                blk.multiply(c, cOffset + ic * ldc + jc, ldc, accumulate);
            }
        }
    }

    /** Rows [ic, ic+mc) x columns [jc, jc+nc) of C over all of K: its packed panels and how tiles use them. */
    private record Block(Operand a, Operand b, TensorOperand direct, TensorOperand aRows, int[] depth, int ic, int mc, int jc, int nc, float[] ap, float[] bp) {
        int mPanels() { return ceilDiv(mc, MR); }
        int nPanels() { return ceilDiv(nc, NR); }

        /**
         * Packs A's panels (all of them, or with a row-major A only the last, partial one) and B's panels,
         * per depth block: A panel ip of block kb at {@code depth[kb]*mPad + ip*MR*kc}, B likewise.
         */
        void pack(boolean packA, boolean packB) {
            int kBlocks = depth.length - 1, aFirst = direct == null ? 0 : mPanels() - 1;
            int aUnits = packA ? (mPanels() - aFirst) * kBlocks : 0, bUnits = packB ? nPanels() * kBlocks : 0;
            int k = depth[kBlocks], grain = Math.max(1, (1 << 16) / (NR * Math.max(1, k / kBlocks)));
            Parallel.forRange(aUnits + bUnits, grain, (u0, u1) -> {
                for (int u = u0; u < u1; u++) {
                    boolean isA = u < aUnits;
                    int unit = isA ? u : u - aUnits, kb = unit % kBlocks, panel = unit / kBlocks, pc = depth[kb], kc = depth[kb + 1] - pc;
                    if (isA) {
                        int ip = aFirst + panel;
                        if (aRows != null) aRows.packRows(ic + ip * MR, Math.min(MR, mc - ip * MR), pc, kc, ap, aPanel(ip, kb), MR);
                        else a.pack(ic + ip * MR, Math.min(MR, mc - ip * MR), pc, kc, ap, aPanel(ip, kb), MR);
                    } else {
                        b.pack(jc + panel * NR, Math.min(NR, nc - panel * NR), pc, kc, bp, pc * roundUp(nc, NR) + panel * NR * kc, NR);
                    }
                }
            });
        }

        /** Where A panel ip of depth block kb was packed (a row-major A keeps only its partial last panel, alone). */
        int aPanel(int ip, int kb) {
            int pc = depth[kb], kc = depth[kb + 1] - pc;
            return direct == null ? pc * roundUp(mc, MR) + ip * MR * kc : pc * MR;
        }

        /** C block (+)= A block · B block, in tiles over all cores; each tile runs through all of K. */
        void multiply(float[] c, int cOffset, int ldc, boolean accumulate) {
            int mPanels = mPanels(), nPanels = nPanels(), kBlocks = depth.length - 1, k = depth[kBlocks], nPad = roundUp(nc, NR);
            // Enough tiles for every core to take several, each at least 2 x 2 micro-tiles.
            int tileN = Math.min(TILE_N / NR, nPanels), tileM = Math.min(TILE_M / MR, mPanels);
            while (ceilDiv(mPanels, tileM) * ceilDiv(nPanels, tileN) < 8 * Parallel.THREADS && (tileM > 2 || tileN > 2)) {
                if (tileM >= tileN && tileM > 2) tileM = ceilDiv(tileM, 2); else tileN = ceilDiv(tileN, 2);
            }
            int tilesM = ceilDiv(mPanels, tileM), tilesN = ceilDiv(nPanels, tileN), tm = tileM, tn = tileN;
            int grain = (int) Math.max(1, TASK_FLOPS / (2.0 * tm * MR * tn * NR * k));
            float[] aDirect = direct == null ? null : direct.heap();
            int lda = direct == null ? 0 : direct.laneStride();
            Parallel.forRange(tilesM * tilesN, grain, (t0, t1) -> {
                float[] edge = null;
                for (int t = t0; t < t1; t++) {
                    int ti = t % tilesM, tj = t / tilesM;
                    int ip1 = Math.min(mPanels, (ti + 1) * tm), jp1 = Math.min(nPanels, (tj + 1) * tn);
                    for (int kb = 0; kb < kBlocks; kb++) {
                        int pc = depth[kb], kc = depth[kb + 1] - pc;
                        boolean add = accumulate || kb > 0;
                        for (int ip = ti * tm; ip < ip1; ip++) {
                            int i = ip * MR, rows = Math.min(MR, mc - i);
                            boolean inPlace = aDirect != null && rows == MR;
                            float[] as = inPlace ? aDirect : ap;
                            int ao = inPlace ? direct.offset(ic + i, pc) : aPanel(ip, kb);
                            int aStep = inPlace || aRows != null ? 1 : MR, aRow = inPlace ? lda : aRows != null ? kc : 1;
                            for (int jp = tj * tn; jp < jp1; jp++) {
                                int j = jp * NR, cols = Math.min(NR, nc - j), bo = pc * nPad + jp * NR * kc;
                                if (rows == MR && cols == NR) {
                                    kernel(kc, as, ao, aStep, aRow, bp, bo, c, cOffset + i * ldc + j, ldc, add);
                                } else {
                                    if (edge == null) edge = new float[MR * NR];
                                    kernel(kc, as, ao, aStep, aRow, bp, bo, edge, 0, NR, false);
                                    for (int r = 0; r < rows; r++) {
                                        int co = cOffset + (i + r) * ldc + j;
                                        for (int q = 0; q < cols; q++) c[co + q] = add ? c[co + q] + edge[r * NR + q] : edge[r * NR + q];
                                    }
                                }
                            }
                        }
                    }
                }
            });
        }
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
