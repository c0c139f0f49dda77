package dev.tornadodiffusion.nn.tokenizers;

/**
 * An entry of tokenizer.json's {@code added_tokens}: text that becomes {@code id} wherever it occurs, found in the
 * raw text ({@code normalized} false) or in the normalized text (true); {@code lstrip} / {@code rstrip} make the
 * match take the white space to its left / right with it.
 */
public record AddedToken(int id, String content, boolean lstrip, boolean rstrip, boolean normalized, boolean special) {}
