package dev.tornadodiffusion.nn.unet;

import dev.tornadodiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * What a UNet is conditioned on besides the sample and timestep: the text encoder states, SDXL's pooled text
 * embedding and size / crop time ids ({@code added_cond_kwargs}), and an LCM model's guidance embedding
 * ({@code timestep_cond}). Absent parts are null.
 */
public record UNetConditioning(Tensor encoderHiddenStates, Tensor textEmbeds, Tensor timeIds, Tensor timestepCond) {

    /** The inputs of a device call: sample, timestep, then the present parts in field order (see {@link #bind}). */
    public Tensor[] inputs(Tensor sample, Tensor timestep) {
        List<Tensor> out = new ArrayList<>(6);
        for (Tensor t : new Tensor[]{sample, timestep, encoderHiddenStates, textEmbeds, timeIds, timestepCond}) if (t != null) out.add(t);
        return out.toArray(Tensor[]::new);
    }

    /** The same parts taken from {@code values} starting at {@code from} (the inputs {@link #inputs} gave, as a device call binds them). */
    public UNetConditioning bind(Tensor[] values, int from) {
        int i = from;
        Tensor ehs = values[i++];
        Tensor te = textEmbeds == null ? null : values[i++];
        Tensor ids = timeIds == null ? null : values[i++];
        Tensor cond = timestepCond == null ? null : values[i];
        return new UNetConditioning(ehs, te, ids, cond);
    }

    /**
     * {@code get_guidance_scale_embedding} for UNets with time_cond_proj_dim (LCM-distilled): w = (guidance - 1) * 1000,
     * [sin(w f), cos(w f)] with f = exp(-i log(10000) / (dim/2 - 1)) in float32, one row per batch element.
     */
    public static Tensor guidanceScaleEmbedding(float guidanceScale, int dim, int batch) {
        int half = dim / 2;
        float w = (guidanceScale - 1) * 1000f;
        float step = (float) Math.log(10000.0) / (half - 1);
        float[] row = new float[dim];
        for (int i = 0; i < half; i++) {
            float e = w * (float) Math.exp(i * -step);
            row[i] = (float) Math.sin(e);
            row[half + i] = (float) Math.cos(e);
        }
        float[] out = new float[batch * dim];
        for (int b = 0; b < batch; b++) System.arraycopy(row, 0, out, b * dim, dim);
        return Tensor.of(out, batch, dim);
    }
}
