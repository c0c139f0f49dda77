package dev.tornadodiffusion.tensor.cpu;

import dev.tornadodiffusion.tensor.Tensor;

/**
 * The one GEMM every matmul, linear and convolution goes through:
 * {@code C[M,N] = A[M,K] · B[K,N] (+ C)}, A and B any 2-D views (transposed strides, F16/BF16 weights).
 */
public final class Gemm {
    private Gemm() {}

    /** c[cOffset + i*ldc + j] (+)= sum_p a[i,p] b[p,j]. */
    public static void gemm(Tensor a, Tensor b, float[] c, int cOffset, int ldc, boolean accumulate) {
        int m = a.dim(0), k = a.dim(1), n = b.dim(1);
        if (b.dim(0) != k) throw new IllegalArgumentException("gemm: " + a + " x " + b);
        float[] A = a.contiguousF32().array(), B = b.contiguousF32().array();
        Parallel.forRange(m, 1, (i0, i1) -> {
            for (int i = i0; i < i1; i++) {
                int ci = cOffset + i * ldc;
                if (!accumulate) java.util.Arrays.fill(c, ci, ci + n, 0f);
                for (int p = 0; p < k; p++) {
                    float av = A[i * k + p];
                    int bp = p * n;
                    for (int j = 0; j < n; j++) c[ci + j] += av * B[bp + j];
                }
            }
        });
    }
}
