package dev.tornadodiffusion.weights;

/** A weight or config file that cannot be used; the message names the file (and tensor/key) and the problem in one line. */
public class WeightFormatException extends IllegalArgumentException {
    public WeightFormatException(String message) { super(message); }

    public WeightFormatException(String message, Throwable cause) { super(message, cause); }
}
