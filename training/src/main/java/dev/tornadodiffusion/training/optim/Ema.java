package dev.tornadodiffusion.training.optim;

import dev.tornadodiffusion.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An exponential moving average of the weights, as diffusers' {@code EMAModel} with its warm-up:
 * {@code decay_t = min(decay, (1 + t) / (10 + t))}, {@code ema = decay_t * ema + (1 - decay_t) * p}.
 * The average is what a training run exports.
 */
public final class Ema {
    private final double decay;
    private final Map<String, float[]> shadow = new LinkedHashMap<>();

    public Ema(Map<String, Tensor> params, double decay) {
        this.decay = decay;
        for (var e : params.entrySet()) shadow.put(e.getKey(), e.getValue().toFloatArray());
    }

    /** Folds in the weights after optimizer step {@code step} (1-based). */
    public void update(Map<String, Tensor> params, long step) {
        float d = (float) Math.min(decay, (1.0 + step) / (10.0 + step));
        for (var e : params.entrySet()) {
            float[] s = shadow.get(e.getKey()), p = e.getValue().array();
            for (int i = 0; i < p.length; i++) s[i] = d * s[i] + (1 - d) * p[i];
        }
    }

    /** The averaged weights as tensors in the parameters' shapes. */
    public Map<String, Tensor> weights(Map<String, Tensor> params) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (var e : params.entrySet()) out.put(e.getKey(), Tensor.of(shadow.get(e.getKey()).clone(), e.getValue().shape()));
        return out;
    }

    /** Continues from saved averages (same keys and shapes). */
    public void restore(Map<String, Tensor> saved) {
        for (var e : shadow.entrySet()) {
            Tensor t = saved.get(e.getKey());
            if (t == null) throw new IllegalArgumentException("EMA state lacks '" + e.getKey() + "'");
            e.setValue(t.toFloatArray());
        }
    }
}
