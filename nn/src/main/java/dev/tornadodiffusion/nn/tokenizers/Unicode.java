package dev.tornadodiffusion.nn.tokenizers;

/** Character classes as HF tokenizers (Rust) define them, where Java's differ. */
final class Unicode {
    private Unicode() {}

    /**
     * The Unicode White_Space property (Rust's {@code char::is_whitespace}); Java's {@code isWhitespace} leaves out
     * no-break spaces and U+0085 and adds U+001C..U+001F.
     */
    static boolean isWhitespace(int cp) {
        return switch (cp) {
            case 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000 -> true;
            default -> cp >= 0x2000 && cp <= 0x200A;
        };
    }
}
