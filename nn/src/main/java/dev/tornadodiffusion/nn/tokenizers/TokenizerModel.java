package dev.tornadodiffusion.nn.tokenizers;

import java.util.List;

/** A tokenizer.json {@code model}: turns one pre-tokenized piece into ids. Unigram today; BPE / WordPiece fit the same slot. */
public sealed interface TokenizerModel permits Unigram {

    /** Appends the ids of {@code piece} to {@code out}. */
    void tokenize(String piece, List<Integer> out);

    int vocabSize();

    /** The vocabulary string of {@code id}. */
    String idToToken(int id);

    /** The id of {@code token}, or -1. */
    int tokenToId(String token);
}
