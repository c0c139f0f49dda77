package dev.tornadodiffusion.diffusion.prompts;

import dev.tornadodiffusion.diffusion.prompts.PromptChunks.Chunk;
import dev.tornadodiffusion.nn.clip.ClipTokenizer;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.List;

/**
 * AUTOMATIC1111's {@code FrozenCLIPEmbedderWithCustomWords.forward} around one CLIP text encoder: the prompts of a
 * batch are encoded chunk by chunk (prompts with fewer chunks get empty chunks), each [B, L] chunk (L = the tokenizer's length, 77 for CLIP) in one
 * encoder call, and the chunk outputs are concatenated along the tokens: [B, L * chunks, C]. Emphasis "Original"
 * per chunk: the hidden states are multiplied by the token weights, then rescaled so that their mean over the
 * whole chunk tensor is what it was. Tokenizers that pad with another id than the end token (SD 2.x, SDXL's
 * second encoder) get that id after each chunk's first end token.
 */
public final class WeightedPromptEncoder {
    private WeightedPromptEncoder() {}

    /** A text encoder call: ids [B, L] (I64) to {hidden states [B, L, C], pooled [B, D] or absent}. */
    @FunctionalInterface
    public interface TextEncoder {
        Tensor[] encode(Tensor inputIds);
    }

    /** The conditioning [B, L * chunks, C] and the pooled output of the first chunk (null if the encoder has none). */
    public record Encoded(Tensor hiddenStates, Tensor pooled) {}

    public static Encoded encode(List<PromptChunks> batch, ClipTokenizer tokenizer, TextEncoder encoder) {
        int b = batch.size();
        int chunkCount = 0;
        for (PromptChunks p : batch) chunkCount = Math.max(chunkCount, p.chunks().size());
        int length = tokenizer.maxLength();   // 77 for CLIP
        Chunk empty = PromptChunks.emptyChunk(tokenizer);

        float[][] zs = new float[chunkCount][];
        Tensor pooled = null;
        int width = 0;
        for (int i = 0; i < chunkCount; i++) {
            // 1. the i-th chunk of every prompt as one batch of ids
            long[] ids = new long[b * length];
            float[] multipliers = new float[b * length];
            for (int s = 0; s < b; s++) {
                List<Chunk> chunks = batch.get(s).chunks();
                Chunk c = i < chunks.size() ? chunks.get(i) : empty;
                boolean ended = false;
                for (int t = 0; t < length; t++) {
                    ids[s * length + t] = ended ? tokenizer.padId() : c.tokens()[t];
                    if (c.tokens()[t] == tokenizer.eosId()) ended = true;
                    multipliers[s * length + t] = c.multipliers()[t];
                }
            }
            // 2. through the text encoder
            Tensor[] out = encoder.encode(Tensor.ofLongs(ids, b, length));
            if (i == 0 && out.length > 1) pooled = out[1];
            width = out[0].dim(2);
            // 3. the token weights, with the chunk's mean restored
            zs[i] = emphasize(out[0].toFloatArray(), multipliers, width);
        }

        float[] cond = new float[b * chunkCount * length * width];
        int row = length * width;
        for (int s = 0; s < b; s++)
            for (int i = 0; i < chunkCount; i++)
                System.arraycopy(zs[i], s * row, cond, (s * chunkCount + i) * row, row);
        return new Encoded(Tensor.of(cond, b, chunkCount * length, width), pooled);
    }

    /** EmphasisOriginal: z * weight per token, then z * (mean before / mean after) over the whole chunk tensor. */
    static float[] emphasize(float[] z, float[] multipliers, int width) {
        float originalMean = mean(z);
        float[] out = new float[z.length];
        for (int i = 0; i < z.length; i++) out[i] = z[i] * multipliers[i / width];
        float scale = originalMean / mean(out);
        for (int i = 0; i < out.length; i++) out[i] = out[i] * scale;
        return out;
    }

    private static float mean(float[] v) {
        double sum = 0;
        for (float x : v) sum += x;
        return (float) (sum / v.length);
    }
}
