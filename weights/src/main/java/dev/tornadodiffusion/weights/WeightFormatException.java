package dev.tornadodiffusion.weights;

/** A weight or config file that cannot be used; the message names the file (and tensor/key) and the problem in one line. */
public class WeightFormatException extends IllegalArgumentException {
    public WeightFormatException(String message) { super(message); }

    public WeightFormatException(String message, Throwable cause) { super(message, cause); }

    /** {@code text} from a file, made safe for a one-line message: quoted, control characters escaped, cut after 200 characters. */
    public static String quote(String text) {
        return "'" + oneLine(text, 200) + "'";
    }

    /** {@code text} with line breaks and other control characters escaped, cut after {@code max} characters. */
    public static String oneLine(String text, int max) {
        StringBuilder sb = new StringBuilder();
        int i = 0;
        for (; i < text.length() && sb.length() < max; i++) {
            char c = text.charAt(i);
            if (c == '\n') sb.append("\\n");
            else if (c == '\r') sb.append("\\r");
            else if (c == '\t') sb.append("\\t");
            else if (Character.isISOControl(c)) sb.append(String.format("\\u%04x", (int) c));
            else sb.append(c);
        }
        return i < text.length() ? sb + "..." : sb.toString();
    }
}
