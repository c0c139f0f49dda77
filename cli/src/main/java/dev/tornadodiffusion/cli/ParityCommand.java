package dev.tornadodiffusion.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Compare.Check;
import dev.tornadodiffusion.parity.ParityKinds;
import dev.tornadodiffusion.weights.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * {@code diffuse parity DIR...}: runs every reference case found under the given folders (a case is a folder
 * with a meta.json, as in the fixtures' README), compares each output with the reference, prints one line per
 * output and exits non-zero if anything fails or is not supported.
 */
final class ParityCommand implements Command {

    @Override public String name() { return "parity"; }

    @Override public String usage() { return "[--device cpu|tornado] DIR...  compare our outputs with reference cases (folders with meta.json)"; }

    @Override
    public int run(String[] argv) throws Exception {
        Args args = new Args(argv, Set.of("device"), Set.of());
        if (args.positional().isEmpty()) throw new UsageException("give at least one case folder or a folder of cases");
        Backend backend = Backends.get(args.get("device", "cpu"));
        List<Path> cases = new ArrayList<>();
        for (String d : args.positional()) {
            Path p = Path.of(d);
            if (!Files.isDirectory(p)) throw new UsageException("not a folder: " + d);
            collect(p, cases);
        }
        if (cases.isEmpty()) throw new IllegalArgumentException("no reference cases (folders with meta.json) under " + String.join(", ", args.positional()));
        int passed = 0, failed = 0, unsupported = 0;
        for (Path c : cases) {
            JsonNode meta = Json.read(c.resolve("meta.json"));
            String name = meta.path("case").asText(c.getFileName().toString());
            String kind = ParityKinds.kindOf(meta);
            ParityKinds.Kind k = ParityKinds.get(kind);
            if (k == null) {
                System.out.printf("%-24s %-44s NOT SUPPORTED (case kind '%s' is not supported yet)%n", name, "-", kind);
                unsupported++;
                continue;
            }
            List<Check> checks;
            try {
                checks = k.run(c, backend);
            } catch (Exception | AssertionError e) {
                System.out.printf("%-24s %-44s FAIL (%s)%n", name, "-", e.getMessage());
                failed++;
                continue;
            }
            if (checks.isEmpty()) {
                System.out.printf("%-24s %-44s FAIL (no outputs were compared)%n", name, "-");
                failed++;
            }
            for (Check ch : checks) {
                System.out.printf("%-24s %s%n", name, ch);
                if (ch.pass()) passed++; else failed++;
            }
        }
        System.out.printf("parity: %d passed, %d failed%s%n", passed, failed, unsupported > 0 ? ", " + unsupported + " cases not supported" : "");
        return failed == 0 && unsupported == 0 ? 0 : 1;
    }

    /** A folder with meta.json is a case; otherwise its sub-folders are searched. */
    private static void collect(Path dir, List<Path> out) throws IOException {
        if (Files.isRegularFile(dir.resolve("meta.json"))) { out.add(dir); return; }
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.sorted().toList()) if (Files.isDirectory(p)) collect(p, out);
        }
    }
}
