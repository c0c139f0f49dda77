package dev.tornadodiffusion.nn.vae;

import dev.tornadodiffusion.nn.Conv2d;
import dev.tornadodiffusion.nn.GroupNorm;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * diffusers' VAE {@code Encoder}: conv_in, one DownEncoderBlock2D per level (halving the size on all but the last),
 * the mid block, GroupNorm + SiLU, conv_out to 2 x latent_channels moments (mean and logvar). GroupNorm eps 1e-6.
 */
public final class Encoder {
    public final Conv2d conv_in, conv_out;
    public final List<DownEncoderBlock2D> down_blocks = new ArrayList<>();
    public final UNetMidBlock2D mid_block;
    public final GroupNorm conv_norm_out;

    public Encoder(Params p, AutoencoderKLConfig c) {
        int[] ch = c.block_out_channels();
        int groups = c.norm_num_groups(), levels = ch.length;
        float eps = 1e-6f;
        this.conv_in = new Conv2d(p.child("conv_in"), c.in_channels(), ch[0], 3, 1, 1);
        for (int i = 0; i < levels; i++)
            down_blocks.add(new DownEncoderBlock2D(p.child("down_blocks").child(i), i == 0 ? ch[0] : ch[i - 1], ch[i],
                    c.layers_per_block(), groups, eps, i < levels - 1));
        this.mid_block = new UNetMidBlock2D(p.child("mid_block"), ch[levels - 1], groups, eps, c.mid_block_add_attention());
        this.conv_norm_out = new GroupNorm(p.child("conv_norm_out"), groups, ch[levels - 1], eps);
        this.conv_out = new Conv2d(p.child("conv_out"), ch[levels - 1], 2 * c.latent_channels(), 3, 1, 1);
    }

    /** image [B, in_channels, H, W] -> moments [B, 2 * latent_channels, H / 2^(levels-1), W / 2^(levels-1)] (sizes rounding up). */
    public Tensor forward(Tensor x) {
        return forward(x, null);
    }

    /** With a hook that sees intermediates by their module names ("mid_block.attentions.0", "mid_block", "conv_out"). */
    public Tensor forward(Tensor x, BiConsumer<String, Tensor> hook) {
        x = conv_in.forward(x);
        for (DownEncoderBlock2D block : down_blocks) x = block.forward(x);
        x = mid_block.forward(x, hook == null ? null : (name, t) -> hook.accept("mid_block." + name, t));
        if (hook != null) hook.accept("mid_block", x);
        x = conv_out.forward(conv_norm_out.forwardSilu(x));
        if (hook != null) hook.accept("conv_out", x);
        return x;
    }
}
