package dev.tornadodiffusion.cli;

/** One sub-command of {@code ./diffuse}. */
interface Command {
    String name();

    /** One line: arguments and what it does. */
    String usage();

    /** Returns the process exit code. Parse {@code args} with {@link Args}; throw {@link UsageException} for bad arguments. */
    int run(String[] args) throws Exception;
}
