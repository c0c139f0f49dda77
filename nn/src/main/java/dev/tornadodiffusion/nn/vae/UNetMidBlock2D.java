package dev.tornadodiffusion.nn.vae;

import dev.tornadodiffusion.nn.GroupNorm;
import dev.tornadodiffusion.nn.Linear;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.nn.ResnetBlock2D;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.function.BiConsumer;

/**
 * diffusers' {@code UNetMidBlock2D} as the VAE builds it: resnet, single-head self-attention over the pixels
 * (GroupNorm in front, q/k/v with bias, residual added), resnet. Without {@code add_attention} the two resnets
 * follow each other directly.
 *
 * <p>The attention weights are {@code attentions.0.to_q / to_k / to_v / to_out.0}, or in files saved before diffusers
 * 0.18 (the VAEs of many SD 1.x / 2.x repositories) {@code query / key / value / proj_attn}, which diffusers renames
 * on load ({@code _convert_deprecated_attention_blocks}).
 */
public final class UNetMidBlock2D {
    public final ResnetBlock2D resnet0, resnet1;
    /** Null without attention. */
    public final GroupNorm group_norm;
    public final Linear to_q, to_k, to_v, to_out;
    private final Backend be;

    public UNetMidBlock2D(Params p, int channels, int groups, float eps, boolean addAttention) {
        this.resnet0 = new ResnetBlock2D(p.child("resnets").child(0), channels, channels, null, groups, eps, 1f);
        Params a = p.child("attentions").child(0);
        boolean deprecated = a.has("query.weight");
        this.group_norm = addAttention ? new GroupNorm(a.child("group_norm"), groups, channels, eps) : null;
        this.to_q = addAttention ? new Linear(a.child(deprecated ? "query" : "to_q"), channels, channels, true) : null;
        this.to_k = addAttention ? new Linear(a.child(deprecated ? "key" : "to_k"), channels, channels, true) : null;
        this.to_v = addAttention ? new Linear(a.child(deprecated ? "value" : "to_v"), channels, channels, true) : null;
        this.to_out = addAttention ? new Linear(deprecated ? a.child("proj_attn") : a.child("to_out").child(0), channels, channels, true) : null;
        this.resnet1 = new ResnetBlock2D(p.child("resnets").child(1), channels, channels, null, groups, eps, 1f);
        this.be = p.backend();
    }

    /** hook, if not null, sees the attention module's output (residual included) as "attentions.0". */
    public Tensor forward(Tensor x, BiConsumer<String, Tensor> hook) {
        x = resnet0.forward(x, null);
        if (group_norm != null) {
            x = be.add(x, attend(x));
            if (hook != null) hook.accept("attentions.0", x);
        }
        return resnet1.forward(x, null);
    }

    /** The attention branch on [B, C, H, W]: group_norm, pixels as tokens [B, H*W, C], one head, back to [B, C, H, W]. */
    private Tensor attend(Tensor x) {
        int b = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        Tensor tokens = be.contiguous(group_norm.forward(x).reshape(b, c, h * w).transpose(1, 2));
        Tensor out = to_out.forward(be.attention(to_q.forward(tokens), to_k.forward(tokens), to_v.forward(tokens), 1, false));
        return be.contiguous(out.transpose(1, 2)).reshape(b, c, h, w);
    }
}
