package dev.tornadodiffusion.cli;

import java.util.concurrent.ThreadLocalRandom;

/** A1111's rule for seeds, shared by generate and serve: -1 (or none) means a random one, drawn from [0, 2^32). */
public final class Seeds {
    private Seeds() {}

    public static long random() { return ThreadLocalRandom.current().nextLong(1L << 32); }
}
