package dev.tornadodiffusion.parity;

import dev.tornadodiffusion.weights.torch.TorchCheckpoint;
import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Compare;
import dev.tornadodiffusion.tensor.Compare.Check;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Json;
import dev.tornadodiffusion.weights.Safetensors;
import dev.tornadodiffusion.weights.WeightFormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * The {@code pickle-hostile} reference case: malicious and malformed torch files a safe loader must refuse, and
 * benign ones it must load. One check per file of meta.json's {@code refuse} list: {@link TorchCheckpoint#load}
 * must throw a one-line {@link WeightFormatException} naming the file and every {@code error_must_mention} string
 * (the offending global, record or storage). One check per tensor of each {@code accept} file: its dtype is the one
 * meta.json's {@code accept_expected} names and its values equal {@code accept/expected.safetensors} exactly, where
 * a file's tensors are stored as {@code <file stem>/<name>} or, for the mixed files, as {@code <name>}
 * ({@code <name>__as_f32} for bfloat16, {@code <name>__as_i32} for int16; empty tensors are not stored).
 * A file in the folder that meta.json does not list fails too.
 */
public final class PickleHostileParity {
    private static final Map<String, DType> TORCH_DTYPES = Map.of("float32", DType.F32, "float16", DType.F16, "bfloat16", DType.BF16,
            "float64", DType.F64, "int64", DType.I64, "int32", DType.I32, "int16", DType.I16, "int8", DType.I8, "uint8", DType.U8, "bool", DType.BOOL);

    private PickleHostileParity() {}

    public static List<Check> run(Path caseDir, Backend unused) throws IOException {
        Path metaFile = caseDir.resolve("meta.json");
        JsonNode meta = Json.read(metaFile);
        String expectedFile = meta.path("accept_expected").path("file").asText(null);
        if (expectedFile == null) throw new WeightFormatException(metaFile + ": no accept_expected.file");
        JsonNode dtypes = meta.path("accept_expected").path("structure").path("dtypes");

        List<Check> checks = new ArrayList<>();
        Set<String> listed = new TreeSet<>(List.of("meta.json", expectedFile));
        for (JsonNode r : meta.path("refuse")) {
            String file = r.path("file").asText();
            listed.add(file);
            List<String> mentions = new ArrayList<>();
            r.path("error_must_mention").forEach(m -> mentions.add(m.asText()));
            checks.add(refused(caseDir, file, mentions));
        }
        try (Safetensors expected = Safetensors.open(caseDir.resolve(expectedFile))) {
            for (JsonNode a : meta.path("accept")) {
                String file = a.path("file").asText();
                listed.add(file);
                accepted(caseDir, file, expected, dtypes, checks);
            }
        }
        try (Stream<Path> files = Files.walk(caseDir)) {
            for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
                String name = caseDir.relativize(f).toString().replace('\\', '/');
                if (!listed.contains(name)) checks.add(failed(name, "listed", "not listed in " + metaFile));
            }
        }
        return checks;
    }

    /** Passes when loading {@code file} throws a one-line WeightFormatException that names the file and every mention. */
    private static Check refused(Path caseDir, String file, List<String> mentions) {
        String name = file + " refused", rule = "names " + String.join(", ", mentions);
        String message;
        try (TorchCheckpoint ignored = TorchCheckpoint.load(caseDir.resolve(file))) {
            return failed(name, rule, "loaded without an error");
        } catch (WeightFormatException e) {
            message = e.getMessage();
        } catch (IOException | RuntimeException e) {
            return failed(name, rule, "not a WeightFormatException: " + e);
        }
        boolean pass = !message.contains("\n") && message.contains(file.substring(file.lastIndexOf('/') + 1));
        for (String m : mentions) pass &= message.contains(m);
        return new Check(name, pass ? 0 : 1, pass ? 0 : 1, rule, pass, message);
    }

    /** Loads {@code file} and compares every tensor it must hold, adding one check per tensor (or one failing check). */
    private static void accepted(Path caseDir, String file, Safetensors expected, JsonNode dtypes, List<Check> checks) {
        String stem = file.substring(file.lastIndexOf('/') + 1).replaceFirst("\\.[^.]*$", "") + "/";
        Set<String> wanted = new LinkedHashSet<>();
        for (String key : expected.keys()) if (key.startsWith(stem)) wanted.add(key.substring(stem.length()));
        if (wanted.isEmpty()) dtypes.fieldNames().forEachRemaining(wanted::add);
        try (TorchCheckpoint ckpt = TorchCheckpoint.load(caseDir.resolve(file))) {
            Set<String> names = new LinkedHashSet<>(wanted);
            names.addAll(ckpt.keys());
            for (String n : names) {
                String name = file + ":" + n;
                if (!ckpt.keys().contains(n)) checks.add(failed(name, "exact", "missing"));
                else if (!wanted.contains(n)) checks.add(failed(name, "exact", "not expected in this file"));
                else checks.add(tensor(name, ckpt.get(n), reference(expected, stem, n), TORCH_DTYPES.get(dtypes.path(n).asText())));
            }
        } catch (IOException | RuntimeException e) {
            checks.add(failed(file + " loads", "exact", e.getMessage()));
        }
    }

    /** The stored copy of tensor {@code n}: under the file's stem, under its own name, or widened (bf16, int16); null when not stored. */
    private static Tensor reference(Safetensors expected, String stem, String n) {
        for (String key : List.of(stem + n, n, n + "__as_f32", n + "__as_i32"))
            if (expected.contains(key)) return expected.get(key);
        return null;
    }

    /** Exact values (an empty tensor has none to store) in the dtype meta.json names, else the stored one's. */
    private static Check tensor(String name, Tensor actual, Tensor reference, DType dtype) {
        Check c;
        if (reference != null) c = Compare.exact(name, actual, reference);
        else if (actual.numel() == 0) c = new Check(name, 0, 0, "exact", true, "empty " + Arrays.toString(actual.shape()) + ", nothing stored");
        else return failed(name, "exact", "no reference tensor stored");
        DType want = dtype != null ? dtype : reference != null ? reference.dtype() : actual.dtype();
        return actual.dtype() == want ? c : c.failed("dtype " + actual.dtype() + ", expected " + want);
    }

    private static Check failed(String name, String rule, String problem) {
        return new Check(name, 1, 1, rule, false, problem);
    }
}
