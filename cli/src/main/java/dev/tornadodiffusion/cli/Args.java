package dev.tornadodiffusion.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** {@code --name value} options, {@code --flag} switches and positional arguments, checked against what a command accepts. */
final class Args {
    private final Map<String, String> options = new LinkedHashMap<>();
    private final List<String> positional = new ArrayList<>();

    /** Parses {@code argv}; options named in {@code flags} take no value; any option not in {@code valued} or {@code flags} is an error. */
    Args(String[] argv, Set<String> valued, Set<String> flags) {
        for (int i = 0; i < argv.length; i++) {
            String a = argv[i];
            if (a.startsWith("--") && a.length() > 2) {
                String name = a.substring(2), value = null;
                int eq = name.indexOf('=');
                if (eq >= 0) { value = name.substring(eq + 1); name = name.substring(0, eq); }
                if (flags.contains(name)) {
                    if (value != null) throw new UsageException("option --" + name + " takes no value");
                    options.put(name, "true");
                } else if (valued.contains(name)) {
                    if (value == null) {
                        if (i + 1 >= argv.length) throw new UsageException("option --" + name + " needs a value");
                        value = argv[++i];
                    }
                    options.put(name, value);
                } else throw new UsageException("unknown option --" + name);
            } else positional.add(a);
        }
    }

    List<String> positional() { return positional; }

    boolean has(String name) { return options.containsKey(name); }

    String get(String name, String fallback) { return options.getOrDefault(name, fallback); }

    int getInt(String name, int fallback) {
        String v = options.get(name);
        if (v == null) return fallback;
        try { return Integer.parseInt(v); }
        catch (NumberFormatException e) { throw new UsageException("--" + name + " needs an integer, got '" + v + "'"); }
    }

    long getLong(String name, long fallback) {
        String v = options.get(name);
        if (v == null) return fallback;
        try { return Long.parseLong(v); }
        catch (NumberFormatException e) { throw new UsageException("--" + name + " needs an integer, got '" + v + "'"); }
    }

    float getFloat(String name, float fallback) {
        String v = options.get(name);
        if (v == null) return fallback;
        try { return Float.parseFloat(v); }
        catch (NumberFormatException e) { throw new UsageException("--" + name + " needs a number, got '" + v + "'"); }
    }
}
