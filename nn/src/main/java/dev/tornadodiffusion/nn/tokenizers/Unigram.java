package dev.tornadodiffusion.nn.tokenizers;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The SentencePiece Unigram model as HF tokenizers runs it ({@code Unigram::encode_optimized}): the
 * segmentation of a piece into vocabulary strings with the largest sum of log-probability scores (Viterbi over
 * every split point; ties keep the first candidate met, scanning start positions left to right and, per start,
 * shorter pieces first). A character no vocabulary string covers is an unknown node scored
 * {@code min(score) - 10}; consecutive unknown nodes fuse into one {@code <unk>} id.
 */
public final class Unigram implements TokenizerModel {
    /** tokenizers' K_UNK_PENALTY. */
    private static final double UNK_PENALTY = 10.0;

    private final String[] pieces;
    private final double[] scores;
    private final Map<String, Integer> ids;
    private final int unkId, maxPieceLength;
    private final double unkScore;

    /**
     * @param pieces the vocabulary in id order
     * @param scores their log probabilities
     * @param unkId  the id of the unknown token
     */
    public Unigram(String[] pieces, double[] scores, int unkId) {
        if (pieces.length != scores.length) throw new IllegalArgumentException("Unigram: " + pieces.length + " pieces but " + scores.length + " scores");
        if (unkId < 0 || unkId >= pieces.length) throw new IllegalArgumentException("Unigram: unk_id " + unkId + " is outside the vocabulary of " + pieces.length);
        this.pieces = pieces;
        this.scores = scores;
        this.unkId = unkId;
        this.ids = HashMap.newHashMap(pieces.length);
        int longest = 0;
        double min = Double.MAX_VALUE;
        for (int i = 0; i < pieces.length; i++) {
            ids.put(pieces[i], i);
            longest = Math.max(longest, pieces[i].length());
            min = Math.min(min, scores[i]);
        }
        this.maxPieceLength = longest;
        this.unkScore = min - UNK_PENALTY;
    }

    @Override
    public void tokenize(String piece, List<Integer> out) {
        int n = piece.length();
        double[] best = new double[n + 1];
        int[] from = new int[n + 1], id = new int[n + 1];
        Arrays.fill(from, -1);
        from[0] = 0;
        for (int start = 0; start < n; ) {
            int charLen = Character.charCount(piece.codePointAt(start));
            boolean singleChar = false;
            for (int len = 1; len <= Math.min(maxPieceLength, n - start); len++) {
                Integer match = ids.get(piece.substring(start, start + len));
                if (match == null) continue;
                relax(best, from, id, start, start + len, match, scores[match]);
                if (len == charLen) singleChar = true;
            }
            if (!singleChar) relax(best, from, id, start, start + charLen, unkId, unkScore);
            start += charLen;
        }
        // walk back from the end; a run of unknown nodes becomes one string, looked up again (usually <unk>)
        int[] reversed = new int[n];
        int count = 0, unkEnd = -1;
        for (int end = n; end > 0; end = from[end]) {
            boolean unk = id[end] == unkId;
            if (unk && unkEnd < 0) unkEnd = end;
            if (unk && (from[end] == 0 || id[from[end]] != unkId)) {
                reversed[count++] = ids.getOrDefault(piece.substring(from[end], unkEnd), unkId);
                unkEnd = -1;
            } else if (!unk) reversed[count++] = id[end];
        }
        for (int i = count - 1; i >= 0; i--) out.add(reversed[i]);
    }

    private static void relax(double[] best, int[] from, int[] id, int start, int end, int token, double score) {
        double candidate = best[start] + score;
        if (from[end] < 0 || candidate > best[end]) {
            best[end] = candidate;
            from[end] = start;
            id[end] = token;
        }
    }

    @Override public int vocabSize() { return pieces.length; }

    @Override public String idToToken(int id) { return pieces[id]; }

    @Override public int tokenToId(String token) { return ids.getOrDefault(token, -1); }
}
