package dev.tornadodiffusion.cli.bench;

import java.io.PrintStream;

/** A measurement taken alongside a benchmark's runs: cleared after the warm-up, printed after the timed runs. */
public interface Recorder {
    void reset();

    /** Prints what was recorded over {@code runs} timed runs. */
    void print(PrintStream out, int runs);
}
