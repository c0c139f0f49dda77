package dev.tornadodiffusion.weights;

import dev.tornadodiffusion.weights.torch.TorchCheckpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Finds and opens the weights of a model: a component folder as diffusers / transformers save it
 * ({@code unet/diffusion_pytorch_model.safetensors}, {@code text_encoder/model.safetensors}, optionally as a
 * variant such as {@code diffusion_pytorch_model.fp16.safetensors}, or sharded behind an {@code .index.json}),
 * or a weight file given directly.
 */
public final class ModelFiles {
    /** Weight file names in the order they are looked for: diffusers models first, then transformers models. */
    public static final List<String> WEIGHT_NAMES = List.of(
            "diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.safetensors.index.json",
            "model.safetensors", "model.safetensors.index.json");

    private static final List<String> WEIGHT_EXTENSIONS = List.of(".safetensors", ".bin", ".ckpt", ".pt", ".pth");
    private static final List<String> TORCH_EXTENSIONS = List.of(".ckpt", ".pt", ".pth", ".bin");

    private ModelFiles() {}

    /**
     * The weights in component folder {@code dir}: the first of {@link #WEIGHT_NAMES} (with {@code variant}
     * inserted as diffusers does: {@code model.fp16.safetensors}, {@code model.safetensors.index.fp16.json}) that
     * exists. {@code variant} null means none. Not finding one is an error listing the names tried.
     */
    public static Path find(Path dir, String variant) throws IOException {
        if (!Files.isDirectory(dir)) throw new NoSuchFileException(dir.toString(), null, "not a folder");
        List<String> tried = new ArrayList<>();
        for (String name : WEIGHT_NAMES) {
            String candidate = withVariant(name, variant);
            if (Files.isRegularFile(dir.resolve(candidate))) return dir.resolve(candidate);
            tried.add(candidate);
        }
        List<String> present;
        try (Stream<Path> files = Files.list(dir)) {
            present = files.map(p -> p.getFileName().toString())
                    .filter(n -> WEIGHT_EXTENSIONS.stream().anyMatch(n::endsWith) || n.contains(".index.") && n.endsWith(".json")).sorted().toList();
        }
        throw new NoSuchFileException(dir.toString(), null, "no weights" + (variant == null ? "" : " of variant '" + variant + "'")
                + " (looked for " + String.join(", ", tried) + (present.isEmpty() ? "" : "; found " + String.join(", ", present)) + ")");
    }

    /** {@code name} with {@code variant} before its last extension, as diffusers' {@code _add_variant}: {@code a.b.c} -> {@code a.b.fp16.c}. */
    public static String withVariant(String name, String variant) {
        if (variant == null) return name;
        int dot = name.lastIndexOf('.');
        return dot < 0 ? name + "." + variant : name.substring(0, dot) + "." + variant + name.substring(dot);
    }

    /** The weights of a component folder (no variant) or of a weight file. */
    public static StateDict open(Path path) throws IOException {
        return open(path, null);
    }

    /**
     * The weights of a component folder ({@link #find}) or a weight file, opened by its format: {@code .safetensors},
     * a sharded {@code .safetensors.index.json}, or a PyTorch checkpoint ({@code .ckpt}, {@code .pt}, {@code .pth},
     * {@code .bin}) read by the safe {@link TorchCheckpoint} reader.
     */
    public static StateDict open(Path path, String variant) throws IOException {
        Path file = Files.isDirectory(path) ? find(path, variant) : path;
        String name = file.getFileName().toString();
        if (name.endsWith(".safetensors") || name.endsWith(".json")) return Safetensors.open(file);
        if (TORCH_EXTENSIONS.stream().anyMatch(name::endsWith)) return TorchCheckpoint.load(file);
        throw new WeightFormatException(file + ": unsupported weight file format (supported: .safetensors, .safetensors.index.json, "
                + String.join(", ", TORCH_EXTENSIONS) + ")");
    }
}
