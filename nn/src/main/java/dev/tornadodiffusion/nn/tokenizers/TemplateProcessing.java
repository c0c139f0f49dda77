package dev.tornadodiffusion.nn.tokenizers;

import java.util.List;

/**
 * tokenizer.json's {@code TemplateProcessing} post-processor for single sequences: the template's items in order,
 * each either fixed special-token ids or the sequence ({@code $A}). E.g. XLM-R: {@code <s> $A </s>}.
 *
 * @param items per template item, its special ids, or null for the sequence
 */
public record TemplateProcessing(int[][] items) {

    /** How many special ids the template adds around the sequence. */
    public int added() {
        int n = 0;
        for (int[] item : items) if (item != null) n += item.length;
        return n;
    }

    int[] apply(List<Integer> sequence) {
        int[] out = new int[sequence.size() + added()];
        int k = 0;
        for (int[] item : items)
            if (item == null) for (int id : sequence) out[k++] = id;
            else for (int id : item) out[k++] = id;
        return out;
    }
}
