package dev.tornadodiffusion.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Json;
import dev.tornadodiffusion.weights.ModelFiles;
import dev.tornadodiffusion.weights.StateDict;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * {@code diffuse inspect FILE|DIR}: what is in a weight file (every tensor, metadata, totals), a diffusers model
 * folder (config summary + tensors) or a pipeline folder (one summary line per component). Weight files are
 * opened through {@link ModelFiles#open}, so any format it reads can be listed.
 */
final class InspectCommand implements Command {
    /** Config fields worth a glance, in display order (diffusers / transformers / scheduler names). */
    private static final List<String> MAIN_FIELDS = List.of(
            "sample_size", "in_channels", "out_channels", "latent_channels", "block_out_channels", "layers_per_block",
            "attention_head_dim", "num_attention_heads", "cross_attention_dim", "transformer_layers_per_block",
            "use_linear_projection", "addition_embed_type", "norm_num_groups", "scaling_factor", "shift_factor",
            "hidden_size", "intermediate_size", "num_hidden_layers", "projection_dim", "hidden_act", "vocab_size",
            "max_position_embeddings",
            "num_train_timesteps", "beta_schedule", "beta_start", "beta_end", "prediction_type", "timestep_spacing");

    private final PrintStream out;

    InspectCommand() { this(System.out); }

    InspectCommand(PrintStream out) { this.out = out; }

    @Override public String name() { return "inspect"; }

    @Override
    public String usage() {
        return "FILE|DIR [--variant fp16]  list a weight file's tensors (name, dtype, shape, bytes), metadata and totals, "
                + "or summarise a diffusers model or pipeline folder";
    }

    @Override
    public int run(String[] args) throws IOException {
        Args a = new Args(args, Set.of("variant"), Set.of());
        if (a.positional().size() != 1) throw new UsageException("expected one FILE or DIR, got " + a.positional().size());
        Path path = Path.of(a.positional().getFirst());
        String variant = a.get("variant", null);
        if (!Files.exists(path)) throw new NoSuchFileException(path.toString());
        if (Files.isRegularFile(path.resolve("model_index.json"))) pipeline(path, variant);
        else if (Files.isRegularFile(path.resolve("config.json"))) model(path, variant);
        else try (StateDict weights = ModelFiles.open(path, variant)) { list(weights); }
        return 0;
    }

    /** One line per component of {@code model_index.json}: its class, main config fields and weights. */
    private void pipeline(Path dir, String variant) throws IOException {
        JsonNode index = Json.read(dir.resolve("model_index.json"));
        out.println("pipeline " + dir + ": " + index.path("_class_name").asText("?") + version(index));
        int width = 0;
        List<String> components = new ArrayList<>();
        for (Map.Entry<String, JsonNode> e : index.properties()) {
            if (e.getKey().startsWith("_") || !e.getValue().isArray() || e.getValue().size() != 2) continue;
            components.add(e.getKey());
            width = Math.max(width, e.getKey().length());
        }
        for (String name : components) {
            JsonNode library = index.get(name).get(0), cls = index.get(name).get(1);
            String head = "  " + pad(name, width) + "  ";
            if (cls.isNull()) {
                out.println(head + "-");
                continue;
            }
            Path folder = dir.resolve(name);
            boolean isModel = Files.isRegularFile(folder.resolve("config.json"));
            Path config = folder.resolve(isModel ? "config.json" : "scheduler_config.json");
            out.println(head + cls.asText() + " (" + library.asText() + ")" + (Files.isDirectory(folder) ? "" : "  (no folder)")
                    + (Files.isRegularFile(config) ? "  " + mainFields(Json.read(config)) : ""));
            if (isModel)
                try (StateDict weights = ModelFiles.open(folder, variant)) {
                    out.println(" ".repeat(head.length()) + "weights " + dir.relativize(Path.of(weights.source())) + ": " + totals(weights));
                }
        }
    }

    /** A model folder: its config's main fields, then every tensor. */
    private void model(Path dir, String variant) throws IOException {
        JsonNode config = Json.read(dir.resolve("config.json"));
        out.println("model " + dir + ": " + config.path("_class_name").asText(config.path("architectures").path(0).asText("?")) + version(config));
        out.println("config: " + mainFields(config));
        try (StateDict weights = ModelFiles.open(dir, variant)) { list(weights); }
    }

    /** Every tensor of {@code weights} (name, dtype, shape, bytes) in its own order, its metadata, and the totals. */
    void list(StateDict weights) {
        out.println("weights " + weights.source());
        if (!weights.metadata().isEmpty()) {
            out.println("metadata:");
            for (Map.Entry<String, String> e : weights.metadata().entrySet()) out.println("  " + e.getKey() + ": " + e.getValue());
        }
        int nameWidth = 4, shapeWidth = 5;
        for (String k : weights.keys()) {
            nameWidth = Math.max(nameWidth, k.length());
            shapeWidth = Math.max(shapeWidth, Arrays.toString(weights.get(k).shape()).length());
        }
        out.println(pad("name", nameWidth) + "  dtype    " + pad("shape", shapeWidth) + "  bytes");
        for (String k : weights.keys()) {
            Tensor t = weights.get(k);
            out.println(pad(k, nameWidth) + "  " + pad(t.dtype().toString(), 7) + "  " + pad(Arrays.toString(t.shape()), shapeWidth) + "  " + t.byteSize());
        }
        out.println("total: " + totals(weights));
    }

    /** "N tensors, N parameters, N bytes (1.2 MiB), F32" with a count per dtype when there are several. */
    static String totals(StateDict weights) {
        long params = 0, bytes = 0;
        Map<DType, Integer> dtypes = new TreeMap<>();
        for (String k : weights.keys()) {
            Tensor t = weights.get(k);
            params += t.numel();
            bytes += t.byteSize();
            dtypes.merge(t.dtype(), 1, Integer::sum);
        }
        StringBuilder sb = new StringBuilder().append(weights.keys().size()).append(" tensors, ").append(params)
                .append(" parameters, ").append(bytes).append(" bytes (").append(human(bytes)).append(')');
        for (Map.Entry<DType, Integer> e : dtypes.entrySet()) {
            sb.append(", ").append(e.getKey());
            if (dtypes.size() > 1) sb.append(' ').append(e.getValue());
        }
        return sb.toString();
    }

    /** {@code key=value} for the main fields present (all top-level fields when none of them is). */
    static String mainFields(JsonNode config) {
        List<String> parts = new ArrayList<>();
        for (String f : MAIN_FIELDS)
            if (config.hasNonNull(f)) parts.add(f + "=" + value(config.get(f)));
        if (parts.isEmpty())
            for (Map.Entry<String, JsonNode> e : config.properties())
                if (!e.getKey().startsWith("_")) parts.add(e.getKey() + "=" + value(e.getValue()));
        return String.join(" ", parts);
    }

    private static String value(JsonNode v) {
        return v.isTextual() ? v.asText() : v.isFloatingPointNumber() && Double.isFinite(v.doubleValue()) ? v.decimalValue().toPlainString() : v.toString();
    }

    private static String version(JsonNode config) {
        return config.has("_diffusers_version") ? " (diffusers " + config.get("_diffusers_version").asText() + ")"
                : config.has("transformers_version") ? " (transformers " + config.get("transformers_version").asText() + ")" : "";
    }

    private static String human(long bytes) {
        if (bytes < 1024) return bytes + " B";
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    private static String pad(String s, int width) {
        return s.length() >= width ? s : s + " ".repeat(width - s.length());
    }
}
