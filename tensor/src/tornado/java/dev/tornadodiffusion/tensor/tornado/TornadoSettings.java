package dev.tornadodiffusion.tensor.tornado;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/**
 * tornado.properties: the TornadoVM options this project runs with and the kernels' launch geometry per device
 * type. The file is {@code -Dtd.tornado.properties=FILE}, else tornado.properties in the project folder
 * ({@code td.home}, set by ./diffuse), else none (the defaults below). Keys starting with {@code tornado.} are
 * TornadoVM options: they become system properties before TornadoVM starts, unless given on the command line.
 */
final class TornadoSettings {
    private TornadoSettings() {}

    private static Properties loaded;

    /** Loads the file and applies its TornadoVM options; call before anything touches TornadoVM. */
    static synchronized Properties get() {
        if (loaded != null) return loaded;
        Properties p = new Properties();
        Path file = file();
        if (file != null) {
            try (Reader r = Files.newBufferedReader(file)) {
                p.load(r);
            } catch (IOException e) {
                throw new IllegalStateException(file + ": cannot read TornadoVM settings (" + e.getMessage() + ")");
            }
        }
        // bailouts would run KernelContext kernels as plain Java, where they compute garbage: always fail instead
        p.putIfAbsent("tornado.recover.bailout", "false");
        // TornadoVM counts allocations against this (4GB by default, whatever the device has) and reads it once,
        // before any device is known; the backend checks each plan against the device's real memory instead
        p.putIfAbsent("tornado.device.memory", "1024GB");
        for (String k : p.stringPropertyNames())
            if (k.startsWith("tornado.") && System.getProperty(k) == null) System.setProperty(k, p.getProperty(k).trim());
        loaded = p;
        return p;
    }

    static Path file() {
        String explicit = System.getProperty("td.tornado.properties");
        if (explicit != null) {
            Path f = Path.of(explicit);
            if (!Files.isRegularFile(f)) throw new IllegalStateException(explicit + ": no such file (given by -Dtd.tornado.properties)");
            return f;
        }
        String home = System.getProperty("td.home");
        if (home != null && Files.isRegularFile(Path.of(home, "tornado.properties"))) return Path.of(home, "tornado.properties");
        return null;
    }

    /** The launch geometry for a device of {@code type} ("gpu", "cpu" or "accelerator"). */
    static Launch launch(String type) {
        Properties p = get();
        boolean gpu = type.equals("gpu");
        return new Launch(
                size(p, "gemm.tile", type, gpu ? 64 : 32),
                size(p, "gemm.micro", type, gpu ? 4 : 16),
                size(p, "gemm.ktile", type, 16),
                size(p, "elementwise.local", type, gpu ? 256 : 64),
                size(p, "reduce.local", type, gpu ? 256 : 64),
                size(p, "reduce.workgroups", type, gpu ? 2048 : 8),
                size(p, "attention.queries", type, 64),
                size(p, "attention.keys", type, 32));
    }

    /** A boolean setting of the file ({@code key = true}); absent means false. */
    static boolean flag(String key) {
        String v = get().getProperty(key, "false").trim();
        if (!v.equals("true") && !v.equals("false")) throw new IllegalArgumentException("tornado.properties: " + key + " = '" + v + "' is not true or false");
        return v.equals("true");
    }

    private static int size(Properties p, String key, String type, int fallback) {
        String v = p.getProperty(key + "." + type, p.getProperty(key));
        if (v == null) return fallback;
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("tornado.properties: " + key + "." + type + " = '" + v + "' is not an integer");
        }
    }
}
