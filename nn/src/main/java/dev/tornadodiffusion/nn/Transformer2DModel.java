package dev.tornadodiffusion.nn;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * diffusers' {@code Transformer2DModel} for continuous inputs (models/transformers/transformer_2d.py): GroupNorm
 * (eps 1e-6), proj_in, the image as a token sequence through {@link BasicTransformerBlock}s, proj_out, plus the
 * input. proj_in/proj_out are Linear layers with use_linear_projection (SD2, SDXL) and 1x1 convolutions
 * otherwise (SD1); a 1x1 convolution is the same Linear applied to each pixel, so both run as Linear on tokens.
 */
public final class Transformer2DModel {
    public final GroupNorm norm;
    public final Linear proj_in, proj_out;
    public final List<BasicTransformerBlock> transformer_blocks = new ArrayList<>();
    private final Backend be;

    public Transformer2DModel(Params p, int heads, int headDim, int inChannels, int numLayers, int crossAttentionDim,
                              int normNumGroups, boolean useLinearProjection) {
        int inner = heads * headDim;
        this.norm = new GroupNorm(p.child("norm"), normNumGroups, inChannels, 1e-6f);
        this.proj_in = projection(p.child("proj_in"), inChannels, inner, useLinearProjection);
        for (int i = 0; i < numLayers; i++)
            transformer_blocks.add(new BasicTransformerBlock(p.child("transformer_blocks").child(i), inner, heads, headDim, crossAttentionDim));
        this.proj_out = projection(p.child("proj_out"), inner, inChannels, useLinearProjection);
        this.be = p.backend();
    }

    private static Linear projection(Params p, int in, int out, boolean linear) {
        if (linear) return new Linear(p, in, out, true);
        return new Linear(p.get("weight", out, in, 1, 1).reshape(out, in), p.get("bias", out), p.backend());
    }

    /** x [B, C, H, W], encoderHiddenStates [B, M, cross_attention_dim] -> [B, C, H, W]. */
    public Tensor forward(Tensor x, Tensor encoderHiddenStates) {
        int b = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        Tensor tokens = be.contiguous(norm.forward(x).permute(0, 2, 3, 1)).reshape(b, h * w, c);
        tokens = proj_in.forward(tokens);
        for (BasicTransformerBlock block : transformer_blocks) tokens = block.forward(tokens, encoderHiddenStates);
        tokens = proj_out.forward(tokens);
        return be.add(tokens.reshape(b, h, w, c).permute(0, 3, 1, 2), x);
    }
}
