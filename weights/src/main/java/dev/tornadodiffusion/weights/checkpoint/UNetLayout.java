package dev.tornadodiffusion.weights.checkpoint;

import dev.tornadodiffusion.weights.WeightFormatException;

import java.util.Collection;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The original UNetModel layout (CompVis LDM for SD 1.x/2.x, Stability SGM for SDXL) against diffusers'
 * UNet2DConditionModel names. With L levels and {@code lpb} layers per block:
 * <pre>
 *   input_blocks.0.0                              conv_in
 *   input_blocks.{1 + i(lpb+1) + j}.{0|1}          down_blocks.i.resnets.j | attentions.j
 *   input_blocks.{(i+1)(lpb+1)}.0.op               down_blocks.i.downsamplers.0.conv
 *   middle_block.{0|1|2}                           mid_block.resnets.0 | attentions.0 | resnets.1
 *   output_blocks.{u(lpb+1) + j}.{0|1}             up_blocks.u.resnets.j | attentions.j   (j = 0..lpb)
 *   output_blocks.{u(lpb+1) + lpb}.{2|1}.conv      up_blocks.u.upsamplers.0.conv (2 when the level has attention)
 *   out.0 / out.2, time_embed.0 / .2, label_emb.0.0 / .2   conv_norm_out / conv_out, time_embedding, add_embedding
 * </pre>
 * ResBlock internals: in_layers.0 / in_layers.2 / emb_layers.1 / out_layers.0 / out_layers.3 / skip_connection =
 * norm1 / conv1 / time_emb_proj / norm2 / conv2 / conv_shortcut. Transformer internals keep their names; no tensor
 * changes shape. L and lpb are read from the keys of either layout, so any size of model maps.
 */
final class UNetLayout {
    private static final Pattern INPUT = Pattern.compile("input_blocks\\.(\\d+)\\.(\\d+)\\.(.*)");
    private static final Pattern OUTPUT = Pattern.compile("output_blocks\\.(\\d+)\\.(\\d+)\\..*");
    private static final Pattern DOWN = Pattern.compile("down_blocks\\.(\\d+)\\.(resnets|attentions)\\.(\\d+)\\..*");
    private static final Pattern UP = Pattern.compile("up_blocks\\.(\\d+)\\.attentions\\..*");

    private UNetLayout() {}

    /** L levels, lpb layers per down block (up blocks have lpb + 1), which up levels have attention. */
    record Structure(int levels, int layersPerBlock, boolean[] upAttention) {}

    /** True when {@code keys} (without the component prefix) are in the original layout. */
    static boolean isOriginal(Collection<String> keys) {
        return keys.contains("input_blocks.0.0.weight");
    }

    /** The structure of an original-layout UNet from its keys (without the {@code model.diffusion_model.} prefix). */
    static Structure fromOriginal(Collection<String> keys, String source) {
        int inputs = 0, outputs = 0, firstOp = -1;
        Set<Integer> attentionOutputs = new TreeSet<>();
        for (String k : keys) {
            Matcher m = INPUT.matcher(k);
            if (m.matches()) {
                int n = Integer.parseInt(m.group(1));
                inputs = Math.max(inputs, n + 1);
                if (m.group(2).equals("0") && m.group(3).startsWith("op.")) firstOp = firstOp < 0 ? n : Math.min(firstOp, n);
            }
            m = OUTPUT.matcher(k);
            if (m.matches()) {
                int n = Integer.parseInt(m.group(1));
                outputs = Math.max(outputs, n + 1);
                if (m.group(2).equals("1") && !k.startsWith("output_blocks." + n + ".1.conv.")) attentionOutputs.add(n);
            }
        }
        if (inputs < 2) throw new WeightFormatException(source + ": no UNet input_blocks found");
        // input_blocks holds conv_in plus L levels of lpb layers and L-1 downsamplers: L(lpb+1) blocks in all
        int lpb = firstOp > 0 ? firstOp - 1 : inputs - 1;
        int levels = inputs / (lpb + 1);
        if (levels * (lpb + 1) != inputs || outputs != inputs)
            throw new WeightFormatException(source + ": " + inputs + " input_blocks and " + outputs + " output_blocks do not form a UNet with "
                    + lpb + " layers per block");
        boolean[] upAttention = new boolean[levels];
        for (int u = 0; u < levels; u++) upAttention[u] = attentionOutputs.contains(u * (lpb + 1));
        return new Structure(levels, lpb, upAttention);
    }

    /** The structure of a UNet from its diffusers keys. */
    static Structure fromDiffusers(Collection<String> keys, String source) {
        int levels = 0, lpb = 0;
        Set<Integer> attentionUps = new TreeSet<>();
        for (String k : keys) {
            Matcher m = DOWN.matcher(k);
            if (m.matches()) {
                levels = Math.max(levels, Integer.parseInt(m.group(1)) + 1);
                if (m.group(2).equals("resnets") && m.group(1).equals("0")) lpb = Math.max(lpb, Integer.parseInt(m.group(3)) + 1);
            }
            m = UP.matcher(k);
            if (m.matches()) attentionUps.add(Integer.parseInt(m.group(1)));
        }
        if (levels == 0 || lpb == 0) throw new WeightFormatException(source + ": no UNet down_blocks found");
        boolean[] upAttention = new boolean[levels];
        for (int u = 0; u < levels; u++) upAttention[u] = attentionUps.contains(u);
        return new Structure(levels, lpb, upAttention);
    }

    static KeyTable table(Structure s) {
        KeyTable t = new KeyTable()
                .module("conv_in", "input_blocks.0.0")
                .module("time_embedding.linear_1", "time_embed.0").module("time_embedding.linear_2", "time_embed.2")
                .module("add_embedding.linear_1", "label_emb.0.0").module("add_embedding.linear_2", "label_emb.0.2")
                .module("conv_norm_out", "out.0").module("conv_out", "out.2");
        int per = s.layersPerBlock() + 1;
        for (int i = 0; i < s.levels(); i++) {
            for (int j = 0; j < s.layersPerBlock(); j++) {
                int n = 1 + i * per + j;
                resnet(t, "down_blocks." + i + ".resnets." + j, "input_blocks." + n + ".0");
                t.module("down_blocks." + i + ".attentions." + j, "input_blocks." + n + ".1");
            }
            if (i < s.levels() - 1) t.module("down_blocks." + i + ".downsamplers.0.conv", "input_blocks." + (i + 1) * per + ".0.op");
        }
        resnet(t, "mid_block.resnets.0", "middle_block.0");
        t.module("mid_block.attentions.0", "middle_block.1");
        resnet(t, "mid_block.resnets.1", "middle_block.2");
        for (int u = 0; u < s.levels(); u++) {
            for (int j = 0; j < per; j++) {
                int n = u * per + j;
                resnet(t, "up_blocks." + u + ".resnets." + j, "output_blocks." + n + ".0");
                t.module("up_blocks." + u + ".attentions." + j, "output_blocks." + n + ".1");
            }
            if (u < s.levels() - 1)
                t.module("up_blocks." + u + ".upsamplers.0.conv", "output_blocks." + (u * per + s.layersPerBlock()) + "." + (s.upAttention()[u] ? 2 : 1) + ".conv");
        }
        return t;
    }

    private static void resnet(KeyTable t, String diffusers, String original) {
        t.module(diffusers + ".norm1", original + ".in_layers.0")
                .module(diffusers + ".conv1", original + ".in_layers.2")
                .module(diffusers + ".time_emb_proj", original + ".emb_layers.1")
                .module(diffusers + ".norm2", original + ".out_layers.0")
                .module(diffusers + ".conv2", original + ".out_layers.3")
                .module(diffusers + ".conv_shortcut", original + ".skip_connection");
    }
}
