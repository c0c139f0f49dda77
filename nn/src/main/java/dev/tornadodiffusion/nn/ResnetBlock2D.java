package dev.tornadodiffusion.nn;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * diffusers' {@code ResnetBlock2D} (models/resnet.py) as the UNet and the VAE build it: pre-norm,
 * SiLU, time_embedding_norm "default" (the projected time embedding is added between conv1 and norm2),
 * 1x1 conv_shortcut when the channel count changes.
 * <pre>
 *   h = conv1(silu(norm1(x)))  [+ time_emb_proj(silu(temb))[:, :, None, None]]
 *   h = conv2(silu(norm2(h)))
 *   out = (shortcut(x) + h) / output_scale_factor
 * </pre>
 */
public final class ResnetBlock2D {
    public final GroupNorm norm1, norm2;
    public final Conv2d conv1, conv2;
    public final Linear time_emb_proj;
    public final Conv2d conv_shortcut;
    public final float output_scale_factor;
    private final Backend be;

    /**
     * @param tembChannels width of the time embedding, or null for a block without one (the VAE)
     * @param groups       GroupNorm groups of norm1 and norm2
     */
    public ResnetBlock2D(Params p, int inChannels, int outChannels, Integer tembChannels, int groups, float eps, float outputScaleFactor) {
        this.norm1 = new GroupNorm(p.child("norm1"), groups, inChannels, eps);
        this.conv1 = new Conv2d(p.child("conv1"), inChannels, outChannels, 3, 1, 1);
        this.time_emb_proj = tembChannels == null ? null : new Linear(p.child("time_emb_proj"), tembChannels, outChannels, true);
        this.norm2 = new GroupNorm(p.child("norm2"), groups, outChannels, eps);
        this.conv2 = new Conv2d(p.child("conv2"), outChannels, outChannels, 3, 1, 1);
        this.conv_shortcut = inChannels == outChannels ? null : new Conv2d(p.child("conv_shortcut"), inChannels, outChannels, 1, 1, 0);
        this.output_scale_factor = outputScaleFactor;
        this.be = p.backend();
    }

    /** x [B, in, H, W], temb [B, temb_channels] (null when the block has no time embedding) -> [B, out, H, W]. */
    public Tensor forward(Tensor x, Tensor temb) {
        Tensor h = conv1.forward(norm1.forwardSilu(x));
        if (time_emb_proj != null) {
            if (temb == null) throw new IllegalArgumentException("ResnetBlock2D with time_emb_proj needs a time embedding");
            Tensor t = time_emb_proj.forward(be.silu(temb));
            h = be.add(h, t.reshape(t.dim(0), t.dim(1), 1, 1));
        }
        h = conv2.forward(norm2.forwardSilu(h));
        Tensor out = be.add(conv_shortcut == null ? x : conv_shortcut.forward(x), h);
        return output_scale_factor == 1f ? out : be.scale(out, 1f / output_scale_factor);
    }
}
