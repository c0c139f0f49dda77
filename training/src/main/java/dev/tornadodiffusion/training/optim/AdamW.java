package dev.tornadodiffusion.training.optim;

import dev.tornadodiffusion.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * AdamW (Loshchilov and Hutter; PyTorch's {@code torch.optim.AdamW}): Adam moments with bias correction and weight decay
 * decoupled from the gradient ({@code p -= lr * weight_decay * p} before the Adam step). Norm scales and biases (1-D
 * tensors) are not decayed. Moments live here per parameter key; {@link #state()} and {@link #restore} save and resume them.
 */
public final class AdamW {
    public record Config(double beta1, double beta2, double eps, double weightDecay) {
        public static Config defaults(double weightDecay) { return new Config(0.9, 0.999, 1e-8, weightDecay); }
    }

    private final Config c;
    private final Map<String, float[]> m = new LinkedHashMap<>(), v = new LinkedHashMap<>();
    private long t;

    public AdamW(Config config) { this.c = config; }

    /** Steps taken. */
    public long steps() { return t; }

    /**
     * One update of every parameter that has a gradient. {@code params} and {@code grads} map keys to dense F32 tensors;
     * parameters are updated in place.
     */
    public void step(Map<String, Tensor> params, Map<String, Tensor> grads, double lr) {
        t++;
        double bc1 = 1 - Math.pow(c.beta1(), t), bc2 = 1 - Math.pow(c.beta2(), t);
        for (var e : params.entrySet()) {
            Tensor g = grads.get(e.getKey());
            if (g == null) continue;
            float[] p = e.getValue().array(), gr = g.contiguousF32().array();
            float[] mk = m.computeIfAbsent(e.getKey(), k -> new float[p.length]), vk = v.computeIfAbsent(e.getKey(), k -> new float[p.length]);
            double decay = e.getValue().rank() >= 2 ? lr * c.weightDecay() : 0;
            float b1 = (float) c.beta1(), b2 = (float) c.beta2();
            for (int i = 0; i < p.length; i++) {
                float gi = gr[i];
                mk[i] = b1 * mk[i] + (1 - b1) * gi;
                vk[i] = b2 * vk[i] + (1 - b2) * gi * gi;
                double update = (mk[i] / bc1) / (Math.sqrt(vk[i] / bc2) + c.eps());
                p[i] = (float) (p[i] - decay * p[i] - lr * update);
            }
        }
    }

    /** The moments as tensors ("m." and "v." before each key) and the step count. */
    public Map<String, Tensor> state() {
        Map<String, Tensor> s = new LinkedHashMap<>();
        for (var e : m.entrySet()) s.put("m." + e.getKey(), Tensor.of(e.getValue().clone(), e.getValue().length));
        for (var e : v.entrySet()) s.put("v." + e.getKey(), Tensor.of(e.getValue().clone(), e.getValue().length));
        return s;
    }

    /** Continues from {@link #state()} taken after {@code steps} steps. */
    public void restore(Map<String, Tensor> state, long steps) {
        m.clear();
        v.clear();
        for (var e : state.entrySet()) {
            String k = e.getKey();
            if (k.startsWith("m.")) m.put(k.substring(2), e.getValue().toFloatArray());
            else if (k.startsWith("v.")) v.put(k.substring(2), e.getValue().toFloatArray());
        }
        t = steps;
    }

    /**
     * Scales the gradients in place so their global L2 norm is at most {@code maxNorm} (torch's clip_grad_norm_);
     * returns the norm before clipping.
     */
    public static double clipGradNorm(Map<String, Tensor> grads, double maxNorm) {
        double sq = 0;
        for (Tensor g : grads.values()) for (float x : g.contiguousF32().array()) sq += (double) x * x;
        double norm = Math.sqrt(sq);
        if (maxNorm > 0 && norm > maxNorm) {
            float s = (float) (maxNorm / (norm + 1e-6));
            for (Tensor g : grads.values()) {
                float[] a = g.array();
                for (int i = 0; i < a.length; i++) a[i] *= s;
            }
        }
        return norm;
    }
}
