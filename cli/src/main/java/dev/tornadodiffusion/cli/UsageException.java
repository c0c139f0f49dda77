package dev.tornadodiffusion.cli;

/** A mistake in the command line: reported as one line plus the command's usage. */
final class UsageException extends RuntimeException {
    UsageException(String message) { super(message); }
}
