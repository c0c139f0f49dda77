package dev.tornadodiffusion.nn.vae;

import dev.tornadodiffusion.nn.Conv2d;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.function.UnaryOperator;

/**
 * diffusers' {@code EncoderTiny}: the image moved from [-1, 1] to [0, 1], then one {@code nn.Sequential}
 * ({@code layers.N} in the checkpoint): a 3x3 conv, level 0's blocks, and per later level a stride-2 3x3 conv
 * without bias and its blocks, then a 3x3 conv to the latent channels. No distribution: the output is the latent.
 */
public final class EncoderTiny {
    /** The Sequential's layers in checkpoint order. */
    final List<UnaryOperator<Tensor>> layers = new ArrayList<>();
    private final Backend be;

    public EncoderTiny(Params p, AutoencoderTinyConfig config) {
        Params l = p.child("layers");
        int[] widths = config.encoder_block_out_channels();
        for (int level = 0; level < widths.length; level++) {
            int c = widths[level];
            Conv2d conv = level == 0
                    ? new Conv2d(l.child(layers.size()), config.in_channels(), c, 3, 1, 1)
                    : new Conv2d(l.child(layers.size()), c, c, 3, 2, 1, 1, false);
            layers.add(conv::forward);
            for (int b = 0; b < config.num_encoder_blocks()[level]; b++) layers.add(new AutoencoderTinyBlock(l.child(layers.size()), c)::forward);
        }
        layers.add(new Conv2d(l.child(layers.size()), widths[widths.length - 1], config.latent_channels(), 3, 1, 1)::forward);
        this.be = p.backend();
    }

    /** image [B, C, H, W] in [-1, 1] -> latent [B, latent_channels, ceil(H/8), ceil(W/8)]. */
    public Tensor forward(Tensor x) {
        return forward(x, (name, t) -> {});
    }

    /** {@link #forward(Tensor)}, handing each layer's output to {@code hook} as {@code "layers.N"}. */
    public Tensor forward(Tensor x, BiConsumer<String, Tensor> hook) {
        Tensor h = be.scale(be.add(x, Tensor.scalar(1f)), 0.5f);
        for (int i = 0; i < layers.size(); i++) {
            h = layers.get(i).apply(h);
            hook.accept("layers." + i, h);
        }
        return h;
    }
}
