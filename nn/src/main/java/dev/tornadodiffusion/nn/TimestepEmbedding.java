package dev.tornadodiffusion.nn;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * diffusers' {@code TimestepEmbedding} (models/embeddings.py) with SiLU: linear_1, SiLU, linear_2, applied to a
 * sinusoidal timestep embedding. With cond_proj_dim (LCM's guidance-scale embedding) a bias-free cond_proj of the
 * condition is added to the input first.
 */
public final class TimestepEmbedding {
    public final Linear linear_1, linear_2, cond_proj;
    private final Backend be;

    /** @param condProjDim width of the optional condition, or null */
    public TimestepEmbedding(Params p, int inChannels, int timeEmbedDim, Integer condProjDim) {
        this.linear_1 = new Linear(p.child("linear_1"), inChannels, timeEmbedDim, true);
        this.cond_proj = condProjDim == null ? null : new Linear(p.child("cond_proj"), condProjDim, inChannels, false);
        this.linear_2 = new Linear(p.child("linear_2"), timeEmbedDim, timeEmbedDim, true);
        this.be = p.backend();
    }

    /** sample [B, in], condition [B, cond_proj_dim] or null -> [B, time_embed_dim]. */
    public Tensor forward(Tensor sample, Tensor condition) {
        if (condition != null) {
            if (cond_proj == null) throw new IllegalArgumentException("a timestep condition was given but the model has no time_cond_proj_dim");
            sample = be.add(sample, cond_proj.forward(condition));
        }
        return linear_2.forward(be.silu(linear_1.forward(sample)));
    }
}
