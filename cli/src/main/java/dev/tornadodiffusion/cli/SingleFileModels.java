package dev.tornadodiffusion.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Objects;
import java.util.stream.Stream;

/**
 * {@code --model FILE.safetensors|.ckpt}: a single-file SD 1.x / 2.x / SDXL checkpoint (what civitai offers), read as
 * {@code convert} reads it (components split by key prefix, configs derived from the keys, or taken from
 * {@code --model-config DIR}) into a pipeline folder in the cache, once: later runs load that folder while the file
 * and the config folder are the same. The cache is -Dtd.cache=DIR, else $XDG_CACHE_HOME/tornado-diffusion, else
 * ~/.cache/tornado-diffusion; each folder holds the checkpoint's tensors again, so it may be deleted at any time.
 */
final class SingleFileModels {
    private SingleFileModels() {}

    static boolean isCheckpoint(Path p) {
        String name = p.getFileName() == null ? "" : p.getFileName().toString().toLowerCase(Locale.ROOT);
        return name.endsWith(".safetensors") || name.endsWith(".ckpt");
    }

    /** The pipeline folder of {@code model}: itself when it is a folder, else its checkpoint's converted folder. */
    static Path folder(Path model, Path configs, PrintStream log) throws IOException {
        if (Files.isDirectory(model)) {
            if (configs != null) throw new UsageException("--model-config applies to a single-file --model (.safetensors or .ckpt)");
            return model;
        }
        if (!isCheckpoint(model)) throw new UsageException("--model " + model + " is not a pipeline folder or a single-file checkpoint (.safetensors, .ckpt)");
        if (!Files.isRegularFile(model)) throw new java.nio.file.NoSuchFileException(model.toString());
        if (configs != null && !Files.isDirectory(configs)) throw new UsageException("--model-config needs a folder with <component>/config.json: " + configs);
        Path cache = cache().resolve("checkpoints");
        String name = model.getFileName().toString();
        String key = name.substring(0, name.lastIndexOf('.')) + "-" + HexFormat.of().toHexDigits(Objects.hash(model.toAbsolutePath().normalize().toString(),
                Files.size(model), Files.getLastModifiedTime(model).toMillis(), configs == null ? "" : configs.toAbsolutePath().normalize().toString()));
        Path dir = cache.resolve(key);
        if (Files.isRegularFile(dir.resolve("model_index.json"))) return dir;
        log.println("converting " + model + " to a pipeline folder, once (later runs load it): " + dir);
        Path partial = cache.resolve(key + ".partial-" + ProcessHandle.current().pid());
        try {
            delete(partial);
            new ConvertCommand(log).toFolder(model, partial, null, configs, null);
            Files.move(partial, dir, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            if (!Files.isRegularFile(dir.resolve("model_index.json"))) throw e;  // else another run finished it first
        } finally {
            delete(partial);
        }
        return dir;
    }

    private static Path cache() {
        String td = System.getProperty("td.cache"), xdg = System.getenv("XDG_CACHE_HOME");
        if (td != null && !td.isEmpty()) return Path.of(td);
        return (xdg != null && !xdg.isEmpty() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache")).resolve("tornado-diffusion");
    }

    private static void delete(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.delete(p);
        }
    }
}
