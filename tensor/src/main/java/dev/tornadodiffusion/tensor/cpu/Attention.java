package dev.tornadodiffusion.tensor.cpu;

import dev.tornadodiffusion.tensor.Tensor;

import java.util.Arrays;

/** Fused multi-head attention: one query row at a time with an online softmax, so memory is O(tokens). */
final class Attention {
    private Attention() {}

    static Tensor forward(Tensor q, Tensor k, Tensor v, int heads, boolean causal) {
        int b = q.dim(0), nq = q.dim(1), nk = k.dim(1);
        int dq = q.dim(2) / heads, dv = v.dim(2) / heads;
        if (k.dim(0) != b || v.dim(0) != b || v.dim(1) != nk || k.dim(2) != q.dim(2) || q.dim(2) % heads != 0)
            throw new IllegalArgumentException("attention shapes q" + Arrays.toString(q.shape()) + " k" + Arrays.toString(k.shape()) + " v" + Arrays.toString(v.shape()) + " heads " + heads);
        float[] Q = q.contiguousF32().array(), K = k.contiguousF32().array(), V = v.contiguousF32().array();
        Tensor out = Tensor.zeros(b, nq, heads * dv);
        float[] O = out.array();
        float scale = (float) (1.0 / Math.sqrt(dq));
        int qStride = heads * dq, vStride = heads * dv;
        Parallel.forRange(b * heads * nq, 8, (r0, r1) -> {
            float[] acc = new float[dv];
            for (int r = r0; r < r1; r++) {
                int i = r % nq, h = r / nq % heads, bi = r / (nq * heads);
                int qo = (bi * nq + i) * qStride + h * dq;
                int keys = causal ? Math.min(nk, i + 1) : nk;
                float max = Float.NEGATIVE_INFINITY, sum = 0f;
                Arrays.fill(acc, 0f);
                for (int j = 0; j < keys; j++) {
                    int ko = (bi * nk + j) * qStride + h * dq;
                    float s = 0f;
                    for (int d = 0; d < dq; d++) s += Q[qo + d] * K[ko + d];
                    s *= scale;
                    int vo = (bi * nk + j) * vStride + h * dv;
                    if (s > max) {
                        float corr = (float) Math.exp(max - s);
                        sum *= corr;
                        for (int d = 0; d < dv; d++) acc[d] *= corr;
                        max = s;
                    }
                    float p = (float) Math.exp(s - max);
                    sum += p;
                    for (int d = 0; d < dv; d++) acc[d] += p * V[vo + d];
                }
                int oo = (bi * nq + i) * vStride + h * dv;
                for (int d = 0; d < dv; d++) O[oo + d] = acc[d] / sum;
            }
        });
        return out;
    }
}
