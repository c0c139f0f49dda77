package dev.tornadodiffusion.nn.vae;

import dev.tornadodiffusion.nn.Conv2d;
import dev.tornadodiffusion.nn.GroupNorm;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * diffusers' VAE {@code Decoder}: conv_in, the mid block, one UpDecoderBlock2D per level in reverse channel order
 * (layers_per_block + 1 resnets, doubling the size on all but the last), GroupNorm + SiLU, conv_out.
 */
public final class Decoder {
    public final Conv2d conv_in, conv_out;
    public final UNetMidBlock2D mid_block;
    public final List<UpDecoderBlock2D> up_blocks = new ArrayList<>();
    public final GroupNorm conv_norm_out;

    public Decoder(Params p, AutoencoderKLConfig c) {
        int[] ch = c.block_out_channels();
        int groups = c.norm_num_groups(), levels = ch.length;
        float eps = 1e-6f;
        this.conv_in = new Conv2d(p.child("conv_in"), c.latent_channels(), ch[levels - 1], 3, 1, 1);
        this.mid_block = new UNetMidBlock2D(p.child("mid_block"), ch[levels - 1], groups, eps, c.mid_block_add_attention());
        int out = ch[levels - 1];
        for (int i = 0; i < levels; i++) {
            int in = out;
            out = ch[levels - 1 - i];
            up_blocks.add(new UpDecoderBlock2D(p.child("up_blocks").child(i), in, out, c.layers_per_block() + 1, groups, eps, i < levels - 1));
        }
        this.conv_norm_out = new GroupNorm(p.child("conv_norm_out"), groups, ch[0], eps);
        this.conv_out = new Conv2d(p.child("conv_out"), ch[0], c.out_channels(), 3, 1, 1);
    }

    /** latent [B, latent_channels, h, w] -> image [B, out_channels, h * 2^(levels-1), w * 2^(levels-1)]. */
    public Tensor forward(Tensor z) {
        return forward(z, null);
    }

    /** With a hook that sees intermediates by their module names ("conv_in", "mid_block.attentions.0", "mid_block"). */
    public Tensor forward(Tensor z, BiConsumer<String, Tensor> hook) {
        Tensor x = conv_in.forward(z);
        if (hook != null) hook.accept("conv_in", x);
        x = mid_block.forward(x, hook == null ? null : (name, t) -> hook.accept("mid_block." + name, t));
        if (hook != null) hook.accept("mid_block", x);
        for (UpDecoderBlock2D block : up_blocks) x = block.forward(x);
        return conv_out.forward(conv_norm_out.forwardSilu(x));
    }
}
