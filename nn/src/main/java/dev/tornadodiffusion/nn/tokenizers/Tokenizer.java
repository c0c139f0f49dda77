package dev.tornadodiffusion.nn.tokenizers;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A Hugging Face fast tokenizer as {@code tokenizer.json} describes it ({@link TokenizerJson#load}): added tokens
 * split out, then normalizer, pre-tokenizer, model, and the post-processor's special tokens; truncation and
 * padding as transformers' {@code tokenizer(text, padding="max_length", max_length=L, truncation=True)}.
 * Immutable and thread-safe.
 */
public final class Tokenizer {
    private final AddedVocabulary added;
    private final List<AddedToken> addedTokens;
    private final Normalizer normalizer;
    private final PreTokenizer preTokenizer;
    private final TokenizerModel model;
    private final TemplateProcessing postProcessor;
    private final int padId;

    /** ids and attention mask (1 = token, 0 = padding), of equal length. */
    public record Encoding(int[] input_ids, int[] attention_mask) {}

    /**
     * @param normalizer    may be null
     * @param preTokenizer  may be null (the whole stretch goes to the model)
     * @param postProcessor may be null (no special tokens are added)
     * @param padId         the padding id, or -1 when the tokenizer has none
     */
    public Tokenizer(List<AddedToken> addedTokens, Normalizer normalizer, PreTokenizer preTokenizer, TokenizerModel model,
                     TemplateProcessing postProcessor, int padId) {
        this.addedTokens = List.copyOf(addedTokens);
        this.added = new AddedVocabulary(addedTokens);
        this.normalizer = normalizer;
        this.preTokenizer = preTokenizer;
        this.model = model;
        this.postProcessor = postProcessor;
        this.padId = padId;
    }

    public TokenizerModel model() { return model; }

    /** The number of ids (the model's vocabulary plus added tokens outside it). */
    public int vocabSize() {
        int n = model.vocabSize();
        for (AddedToken t : addedTokens) n = Math.max(n, t.id() + 1);
        return n;
    }

    public int padId() { return padId; }

    /** The normalizer applied to the whole text (what {@code normalizer.normalize_str} returns). */
    public String normalize(String text) {
        return normalizer == null ? text : normalizer.normalize(text);
    }

    /** The pre-tokenizer's pieces of already normalized text. */
    public List<String> preTokenize(String normalized) {
        return preTokenizer == null ? List.of(normalized) : preTokenizer.split(normalized, true);
    }

    /** The ids of {@code text} without special tokens, truncation or padding ({@code add_special_tokens=False}). */
    public int[] encodeIds(String text) {
        List<Integer> ids = new ArrayList<>();
        for (AddedVocabulary.Segment s : added.split(text, normalizer)) {
            if (s.id() >= 0) { ids.add(s.id()); continue; }
            for (String piece : preTokenizer == null ? List.of(s.text()) : preTokenizer.split(s.text(), s.atStart()))
                model.tokenize(piece, ids);
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    /** {@code tokenizer(text).input_ids}: the ids with the post-processor's special tokens. */
    public int[] encode(String text) {
        return withSpecials(encodeIds(text), Integer.MAX_VALUE);
    }

    /**
     * {@code tokenizer(text, padding="max_length", max_length=maxLength, truncation=True)}: at most
     * {@code maxLength} ids including the special tokens (the text's first ids are kept), padded on the right.
     */
    public Encoding encode(String text, int maxLength) {
        int specials = postProcessor == null ? 0 : postProcessor.added();
        if (maxLength <= specials) throw new IllegalArgumentException("tokenizer: max_length " + maxLength + " leaves no room besides the " + specials + " special tokens");
        int[] ids = withSpecials(encodeIds(text), maxLength - specials);
        if (ids.length < maxLength && padId < 0) throw new IllegalArgumentException("tokenizer: padding to " + maxLength + " needs a pad token, and tokenizer.json has none");
        int[] padded = Arrays.copyOf(ids, maxLength), mask = new int[maxLength];
        Arrays.fill(padded, ids.length, maxLength, padId);
        Arrays.fill(mask, 0, ids.length, 1);
        return new Encoding(padded, mask);
    }

    private int[] withSpecials(int[] ids, int keep) {
        List<Integer> seq = new ArrayList<>();
        for (int i = 0; i < Math.min(keep, ids.length); i++) seq.add(ids[i]);
        return postProcessor == null ? seq.stream().mapToInt(Integer::intValue).toArray() : postProcessor.apply(seq);
    }

    /** The vocabulary string of an id ({@code convert_ids_to_tokens}). */
    public String idToToken(int id) {
        for (AddedToken t : addedTokens) if (t.id() == id) return t.content();
        if (id < 0 || id >= model.vocabSize()) throw new IllegalArgumentException("tokenizer: id " + id + " is outside the vocabulary of " + vocabSize());
        return model.idToToken(id);
    }
}
