package dev.tornadodiffusion.cli;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.NoSuchFileException;
import java.util.List;

/** Entry point of {@code ./diffuse}: dispatches to one {@link Command}. */
public final class Diffuse {
    static final List<Command> COMMANDS = List.of(
            new BenchCommand(),
            new DeviceBenchCommand(),
            new DevicesCommand(),
            new GenerateCommand(),
            new InspectCommand(),
            new ParityCommand(),
            new ServeCommand(),
            new ConvertCommand(),
            new TrainCommand()
    );

    public static void main(String[] argv) {
        System.exit(run(argv));
    }

    /** Runs one command and returns its exit code (scripts/DeviceCheck.java runs several in one JVM). */
    public static int run(String[] argv) {
        if (argv.length == 0 || argv[0].equals("help") || argv[0].equals("--help") || argv[0].equals("-h")) {
            System.out.println(usage());
            return argv.length == 0 ? 2 : 0;
        }
        Command cmd = COMMANDS.stream().filter(c -> c.name().equals(argv[0])).findFirst().orElse(null);
        if (cmd == null) {
            System.err.println("diffuse: unknown command '" + argv[0] + "'\n" + usage());
            return 2;
        }
        if (java.util.Arrays.asList(argv).subList(1, argv.length).stream().anyMatch(x -> x.equals("--help") || x.equals("-h"))) {
            System.out.println("usage: diffuse " + cmd.name() + " " + cmd.usage());
            return 0;
        }
        try {
            return cmd.run(java.util.Arrays.copyOfRange(argv, 1, argv.length));
        } catch (UsageException e) {
            System.err.println("diffuse " + cmd.name() + ": " + e.getMessage() + "\nusage: diffuse " + cmd.name() + " " + cmd.usage());
            return 2;
        } catch (NoSuchFileException | FileNotFoundException e) {
            System.err.println("diffuse " + cmd.name() + ": no such file: " + e.getMessage());
            return 1;
        } catch (IOException | UncheckedIOException | IllegalArgumentException | IllegalStateException | UnsupportedOperationException e) {
            System.err.println("diffuse " + cmd.name() + ": " + e.getMessage());
            if (Boolean.getBoolean("td.debug")) e.printStackTrace();
            return 1;
        } catch (Exception | OutOfMemoryError e) {
            System.err.println("diffuse " + cmd.name() + ": internal error: " + e + " (run with TD_JAVA_OPTS=-Dtd.debug=true for the stack trace)");
            if (Boolean.getBoolean("td.debug")) e.printStackTrace();
            return 1;
        }
    }

    static String usage() {
        StringBuilder sb = new StringBuilder("usage: diffuse <command> [arguments]\ncommands:");
        for (Command c : COMMANDS) sb.append("\n  ").append(c.name()).append(' ').append(c.usage());
        return sb.toString();
    }
}
