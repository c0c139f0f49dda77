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
 * diffusers' {@code DecoderTiny}: the latent soft-clamped to ±3 ({@code tanh(x / 3) * 3}), then one
 * {@code nn.Sequential} ({@code layers.N}): a 3x3 conv and ReLU, per level its blocks and, but for the last level,
 * nearest 2x upsampling and a 3x3 conv without bias; the last level ends in a 3x3 conv to the image channels.
 * The output moves from [0, 1] to [-1, 1].
 */
public final class DecoderTiny {
    /** The Sequential's layers in checkpoint order (ReLU and Upsample have no weights but keep their index). */
    final List<UnaryOperator<Tensor>> layers = new ArrayList<>();
    private final Backend be;

    public DecoderTiny(Params p, AutoencoderTinyConfig config) {
        this.be = p.backend();
        Params l = p.child("layers");
        int[] widths = config.decoder_block_out_channels();
        layers.add(new Conv2d(l.child(layers.size()), config.latent_channels(), widths[0], 3, 1, 1)::forward);
        layers.add(x -> AutoencoderTinyBlock.relu(be, x));
        for (int level = 0; level < widths.length; level++) {
            int c = widths[level];
            boolean last = level == widths.length - 1;
            for (int b = 0; b < config.num_decoder_blocks()[level]; b++) layers.add(new AutoencoderTinyBlock(l.child(layers.size()), c)::forward);
            if (!last) layers.add(be::upsampleNearest2x);
            layers.add(new Conv2d(l.child(layers.size()), c, last ? config.out_channels() : c, 3, 1, 1, 1, last)::forward);
        }
    }

    /** latent [B, latent_channels, h, w] -> image [B, out_channels, 8h, 8w] in about [-1, 1]. */
    public Tensor forward(Tensor z) {
        return forward(z, (name, t) -> {});
    }

    /** {@link #forward(Tensor)}, handing each layer's output to {@code hook} as {@code "layers.N"}. */
    public Tensor forward(Tensor z, BiConsumer<String, Tensor> hook) {
        Tensor h = be.scale(be.tanh(be.scale(z, 1f / 3)), 3f);
        for (int i = 0; i < layers.size(); i++) {
            h = layers.get(i).apply(h);
            hook.accept("layers." + i, h);
        }
        return be.sub(be.scale(h, 2f), Tensor.scalar(1f));
    }
}
