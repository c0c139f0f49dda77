package dev.tornadodiffusion.nn.vae;

import dev.tornadodiffusion.nn.Attention;
import dev.tornadodiffusion.nn.GroupNorm;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.nn.ResnetBlock2D;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.function.BiConsumer;

/**
 * diffusers' {@code UNetMidBlock2D} as the VAE builds it: resnet, single-head self-attention over the pixels
 * (GroupNorm in front, q/k/v with bias, residual added), resnet. Without {@code add_attention} the two resnets
 * follow each other directly.
 */
public final class UNetMidBlock2D {
    public final ResnetBlock2D resnet0, resnet1;
    /** Null without attention. */
    public final GroupNorm group_norm;
    public final Attention attention;
    private final Backend be;

    public UNetMidBlock2D(Params p, int channels, int groups, float eps, boolean addAttention) {
        this.resnet0 = new ResnetBlock2D(p.child("resnets").child(0), channels, channels, null, groups, eps, 1f);
        Params a = p.child("attentions").child(0);
        this.group_norm = addAttention ? new GroupNorm(a.child("group_norm"), groups, channels, eps) : null;
        this.attention = addAttention ? new Attention(a, channels, channels, 1, channels, true) : null;
        this.resnet1 = new ResnetBlock2D(p.child("resnets").child(1), channels, channels, null, groups, eps, 1f);
        this.be = p.backend();
    }

    /** hook, if not null, sees the attention module's output (residual included) as "attentions.0". */
    public Tensor forward(Tensor x, BiConsumer<String, Tensor> hook) {
        x = resnet0.forward(x, null);
        if (attention != null) {
            x = be.add(x, attend(x));
            if (hook != null) hook.accept("attentions.0", x);
        }
        return resnet1.forward(x, null);
    }

    /** The attention branch on [B, C, H, W]: group_norm, pixels as tokens [B, H*W, C], attention, back to [B, C, H, W]. */
    private Tensor attend(Tensor x) {
        int b = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        Tensor tokens = be.contiguous(group_norm.forward(x).reshape(b, c, h * w).transpose(1, 2));
        Tensor out = attention.forward(tokens, null);
        return be.contiguous(out.transpose(1, 2)).reshape(b, c, h, w);
    }
}
