package dev.tornadodiffusion.diffusion.prompts;

import dev.tornadodiffusion.diffusion.prompts.PromptParser.Piece;
import dev.tornadodiffusion.nn.clip.ClipTokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A prompt as AUTOMATIC1111 feeds it to CLIP ({@code tokenize_line}): each weighted piece tokenized on its own,
 * every token carrying its piece's weight, cut into chunks of the tokenizer's length less two (75 for CLIP's 77)
 * that each get their own start and end token. A chunk that fills up moves the words after its last comma to the next
 * chunk when that comma is among the last {@value #COMMA_BACKTRACK} tokens; a BREAK closes the chunk. Prompts of
 * any length are kept whole.
 *
 * @param chunks     the tokenizer's length of ids each (77 for CLIP): start, 75 tokens padded with the end token, end
 * @param tokenCount the prompt's token count as A1111 reports it (75 per full chunk plus the last chunk's tokens)
 */
public record PromptChunks(List<Chunk> chunks, int tokenCount) {
    /** A1111's {@code comma_padding_backtrack} default. */
    public static final int COMMA_BACKTRACK = 20;

    /** The tokenizer's length of token ids and the weight of each (1 for start, end and padding). */
    public record Chunk(int[] tokens, float[] multipliers) {}

    /**
     * The chunks of {@code prompt}; with {@code weighting} false the text is taken literally (A1111's emphasis
     * "None": no brackets, weights or BREAK).
     */
    public static PromptChunks of(String prompt, ClipTokenizer tokenizer, boolean weighting) {
        List<Piece> pieces = weighting ? PromptParser.parse(prompt) : List.of(new Piece(prompt, 1.0));
        Builder b = new Builder(tokenizer);
        for (Piece piece : pieces) {
            if (piece.isBreak()) {
                b.nextChunk(false);
                continue;
            }
            for (int token : tokenizer.encode(piece.text())) b.add(token, (float) piece.weight());
        }
        if (b.length > 0 || b.chunks.isEmpty()) b.nextChunk(true);
        return new PromptChunks(List.copyOf(b.chunks), b.tokenCount);
    }

    /**
     * These chunks followed by empty chunks up to {@code count} (a prompt and its negative must have the same
     * length for one batched UNet call; A1111's {@code pad_cond_uncond} pads with the empty prompt's chunk).
     */
    public PromptChunks padTo(int count, ClipTokenizer tokenizer) {
        if (chunks.size() >= count) return this;
        List<Chunk> padded = new ArrayList<>(chunks);
        while (padded.size() < count) padded.add(emptyChunk(tokenizer));
        return new PromptChunks(List.copyOf(padded), tokenCount);
    }

    /** {@code empty_chunk()}: start, then end tokens, all weights 1 (what shorter prompts of a batch are padded with). */
    public static Chunk emptyChunk(ClipTokenizer tokenizer) {
        int[] tokens = new int[tokenizer.maxLength()];
        Arrays.fill(tokens, tokenizer.eosId());
        tokens[0] = tokenizer.bosId();
        float[] multipliers = new float[tokenizer.maxLength()];
        Arrays.fill(multipliers, 1f);
        return new Chunk(tokens, multipliers);
    }

    private static final class Builder {
        final ClipTokenizer tokenizer;
        final int comma, chunkLength;   // A1111's 75: the encoder's length less start and end
        final List<Chunk> chunks = new ArrayList<>();
        int[] tokens;
        float[] multipliers;
        int length, lastComma = -1, tokenCount;

        Builder(ClipTokenizer tokenizer) {
            this.tokenizer = tokenizer;
            this.comma = tokenizer.tokenId(",</w>");
            this.chunkLength = tokenizer.maxLength() - 2;
            this.tokens = new int[chunkLength];
            this.multipliers = new float[chunkLength];
        }

        void add(int token, float weight) {
            if (token == comma) {
                lastComma = length;
            } else if (length == chunkLength && lastComma != -1 && length - lastComma <= COMMA_BACKTRACK) {
                // the words after the last comma move to the next chunk
                int from = lastComma + 1;
                int[] movedTokens = Arrays.copyOfRange(tokens, from, length);
                float[] movedMultipliers = Arrays.copyOfRange(multipliers, from, length);
                length = from;
                nextChunk(false);
                System.arraycopy(movedTokens, 0, tokens, 0, movedTokens.length);
                System.arraycopy(movedMultipliers, 0, multipliers, 0, movedMultipliers.length);
                length = movedTokens.length;
            }
            if (length == chunkLength) nextChunk(false);
            tokens[length] = token;
            multipliers[length] = weight;
            length++;
        }

        /** {@code next_chunk}: pad with end tokens, add start and end, start an empty chunk. */
        void nextChunk(boolean last) {
            tokenCount += last ? length : chunkLength;
            int[] t = new int[tokenizer.maxLength()];
            float[] w = new float[tokenizer.maxLength()];
            Arrays.fill(t, tokenizer.eosId());
            Arrays.fill(w, 1f);
            t[0] = tokenizer.bosId();
            System.arraycopy(tokens, 0, t, 1, length);
            System.arraycopy(multipliers, 0, w, 1, length);
            chunks.add(new Chunk(t, w));
            tokens = new int[chunkLength];
            multipliers = new float[chunkLength];
            length = 0;
            lastComma = -1;
        }
    }
}
