package dev.tornadodiffusion.weights.checkpoint;

import dev.tornadodiffusion.weights.WeightFormatException;

import java.util.Collection;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The LDM autoencoder layout ({@code first_stage_model.*}) against diffusers' AutoencoderKL names:
 * <pre>
 *   encoder.down.{i}.block.{j} / .downsample.conv     encoder.down_blocks.i.resnets.j / .downsamplers.0.conv
 *   decoder.up.{L-1-i}.block.{j} / .upsample.conv      decoder.up_blocks.i.resnets.j / .upsamplers.0.conv   (reversed)
 *   {en,de}coder.mid.block_1 / attn_1 / block_2        mid_block.resnets.0 / attentions.0 / resnets.1
 *   {en,de}coder.norm_out, nin_shortcut                conv_norm_out, conv_shortcut
 *   attn_1.norm / q / k / v / proj_out                 group_norm / to_q / to_k / to_v / to_out.0
 * </pre>
 * The attention projections are Linear weights [C, C] in diffusers and 1x1 convolutions [C, C, 1, 1] in the file.
 * The numbers of levels and layers are read from the keys of either layout.
 */
final class VaeLayout {
    private static final Pattern ORIGINAL_LEVEL = Pattern.compile("(encoder\\.down|decoder\\.up)\\.(\\d+)\\.(?:block\\.(\\d+)\\.)?.*");
    private static final Pattern DIFFUSERS_LEVEL = Pattern.compile("(encoder\\.down_blocks|decoder\\.up_blocks)\\.(\\d+)\\.(?:resnets\\.(\\d+)\\.)?.*");

    private VaeLayout() {}

    /** Encoder and decoder levels and resnets per level (the decoder has one more than the encoder). */
    record Structure(int encoderLevels, int decoderLevels, int encoderLayers, int decoderLayers) {}

    static Structure fromOriginal(Collection<String> keys, String source) {
        return levels(keys, ORIGINAL_LEVEL, "encoder.down", source);
    }

    static Structure fromDiffusers(Collection<String> keys, String source) {
        return levels(keys, DIFFUSERS_LEVEL, "encoder.down_blocks", source);
    }

    private static Structure levels(Collection<String> keys, Pattern level, String encoder, String source) {
        int[] levels = new int[2], layers = new int[2];
        for (String k : keys) {
            Matcher m = level.matcher(k);
            if (!m.matches()) continue;
            int part = m.group(1).equals(encoder) ? 0 : 1;
            levels[part] = Math.max(levels[part], Integer.parseInt(m.group(2)) + 1);
            if (m.group(3) != null) layers[part] = Math.max(layers[part], Integer.parseInt(m.group(3)) + 1);
        }
        if (levels[0] == 0 && levels[1] == 0) throw new WeightFormatException(source + ": no VAE encoder or decoder levels found");
        return new Structure(levels[0], levels[1], layers[0], layers[1]);
    }

    static KeyTable table(Structure s) {
        // training checkpoints may carry the LPIPS / discriminator loss under first_stage_model.loss: not model weights
        KeyTable t = new KeyTable().module("quant_conv", "quant_conv").module("post_quant_conv", "post_quant_conv").ignore("loss");
        for (String part : new String[]{"encoder", "decoder"}) {
            t.module(part + ".conv_in", part + ".conv_in").module(part + ".conv_out", part + ".conv_out")
                    .module(part + ".conv_norm_out", part + ".norm_out");
            resnet(t, part + ".mid_block.resnets.0", part + ".mid.block_1");
            resnet(t, part + ".mid_block.resnets.1", part + ".mid.block_2");
            String attn = part + ".mid_block.attentions.0", attn1 = part + ".mid.attn_1";
            t.module(attn + ".group_norm", attn1 + ".norm");
            String[][] projections = {{"to_q", "q"}, {"to_k", "k"}, {"to_v", "v"}, {"to_out.0", "proj_out"}};
            for (String[] p : projections)
                t.module(attn + "." + p[0], attn1 + "." + p[1])
                        .tensor(attn + "." + p[0] + ".weight", attn1 + "." + p[1] + ".weight", KeyTable.Layout.CONV_1X1);
        }
        for (int i = 0; i < s.encoderLevels(); i++) {
            for (int j = 0; j < s.encoderLayers(); j++) resnet(t, "encoder.down_blocks." + i + ".resnets." + j, "encoder.down." + i + ".block." + j);
            t.module("encoder.down_blocks." + i + ".downsamplers.0.conv", "encoder.down." + i + ".downsample.conv");
        }
        for (int i = 0; i < s.decoderLevels(); i++) {
            String original = "decoder.up." + (s.decoderLevels() - 1 - i);
            for (int j = 0; j < s.decoderLayers(); j++) resnet(t, "decoder.up_blocks." + i + ".resnets." + j, original + ".block." + j);
            t.module("decoder.up_blocks." + i + ".upsamplers.0.conv", original + ".upsample.conv");
        }
        return t;
    }

    private static void resnet(KeyTable t, String diffusers, String original) {
        for (String same : new String[]{"norm1", "conv1", "norm2", "conv2"}) t.module(diffusers + "." + same, original + "." + same);
        t.module(diffusers + ".conv_shortcut", original + ".nin_shortcut");
    }
}
