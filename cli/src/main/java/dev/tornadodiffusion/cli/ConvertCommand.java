package dev.tornadodiffusion.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Json;
import dev.tornadodiffusion.weights.ModelFiles;
import dev.tornadodiffusion.weights.SafetensorsWriter;
import dev.tornadodiffusion.weights.StateDict;
import dev.tornadodiffusion.weights.checkpoint.Architecture;
import dev.tornadodiffusion.weights.checkpoint.SingleFileCheckpoint;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * {@code diffuse convert IN OUT [--half]}: moves weights between layouts, by what IN is and what OUT names.
 * <ul>
 *   <li>a single-file SD 1.x / 2.x / SDXL checkpoint ({@code .safetensors} or {@code .ckpt}) and a folder: a diffusers
 *       pipeline folder (one safetensors file and config.json per component, model_index.json, scheduler, tokenizers);</li>
 *   <li>a diffusers pipeline folder and a {@code .safetensors} file: the single-file LDM / SGM layout;</li>
 *   <li>any weight file ({@code .pth}, {@code .pt}, {@code .bin}, {@code .ckpt}, {@code .safetensors}) and a
 *       {@code .safetensors} file: the same tensors under the same names.</li>
 * </ul>
 * {@code --half} stores floating-point tensors as F16 (as diffusers' conversion scripts' --half). The configs a single
 * file does not carry are derived from its keys and the original configs, or taken from {@code --config DIR}
 * ({@code DIR/<component>/config.json}, and DIR's tokenizers and scheduler config where it has them).
 */
final class ConvertCommand implements Command {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final PrintStream out;

    ConvertCommand() { this(System.out); }

    ConvertCommand(PrintStream out) { this.out = out; }

    @Override public String name() { return "convert"; }

    @Override
    public String usage() {
        return "IN OUT [--half] [--arch sd1|sd2|sdxl|sdxl-refiner] [--config DIR (configs, tokenizers, scheduler)]  single-file checkpoint (.safetensors/.ckpt) -> diffusers "
                + "folder, diffusers folder -> single .safetensors, or any weight file (.pth/.bin/...) -> .safetensors";
    }

    @Override
    public int run(String[] argv) throws IOException {
        Args args = new Args(argv, Set.of("arch", "config"), Set.of("half"));
        if (args.positional().size() != 2) throw new UsageException("expected IN and OUT, got " + args.positional().size() + " arguments");
        Path in = Path.of(args.positional().get(0)), to = Path.of(args.positional().get(1));
        if (!Files.exists(in)) throw new NoSuchFileException(in.toString());
        Architecture arch = args.has("arch") ? Architecture.of(args.get("arch", null)) : null;
        Path configs = args.has("config") ? Path.of(args.get("config", null)) : null;
        if (configs != null && !Files.isDirectory(configs)) throw new UsageException("--config needs a folder with <component>/config.json: " + configs);
        DType dtype = args.has("half") ? DType.F16 : null;
        boolean toFile = to.getFileName().toString().endsWith(".safetensors");

        if (Files.isDirectory(in)) {
            if (!toFile) throw new UsageException("a diffusers folder converts to a single .safetensors file; OUT must end in .safetensors");
            if (configs != null) throw new UsageException("--config applies to converting a single file to a folder");
            toSingleFile(in, to, arch, dtype);
        } else if (toFile) {
            if (arch != null || configs != null) throw new UsageException("--arch and --config apply to converting a single-file checkpoint to a folder");
            try (StateDict weights = ModelFiles.open(in)) {
                write(to, weights, cast(all(weights), dtype), weights.metadata());
            }
        } else toFolder(in, to, arch, configs, dtype);
        return 0;
    }

    /** A single-file checkpoint -> a diffusers pipeline folder (also {@code generate --model FILE}, {@link SingleFileModels}). */
    void toFolder(Path in, Path dir, Architecture arch, Path configs, DType dtype) throws IOException {
        requireEmptyFolder(dir);
        try (SingleFileCheckpoint ckpt = SingleFileCheckpoint.open(in, arch)) {
            out.println(in + ": " + ckpt.architecture().id + " checkpoint with " + String.join(", ", ckpt.components()));
            Files.createDirectories(dir);
            for (String component : ckpt.components()) {
                Path folder = Files.createDirectories(dir.resolve(component));
                Path assumed = configs == null ? null : configs.resolve(component).resolve("config.json");
                boolean given = assumed != null && Files.isRegularFile(assumed);
                writeJson(folder.resolve("config.json"), given ? Json.read(assumed) : ckpt.config(component));
                StateDict weights = ckpt.component(component);
                String file = component.startsWith("text_encoder") ? "model.safetensors" : "diffusion_pytorch_model.safetensors";
                write(folder.resolve(file), weights, cast(all(weights), dtype), Map.of("format", "pt"));
                out.println("  config " + (given ? "from " + assumed : "derived from the keys and the " + ckpt.architecture().id + " defaults"));
            }
            writeJson(dir.resolve("model_index.json"), modelIndex(ckpt, dir, configs));
            Path scheduler = Files.createDirectories(dir.resolve("scheduler"));
            Path given = configs == null ? null : configs.resolve("scheduler").resolve("scheduler_config.json");
            writeJson(scheduler.resolve("scheduler_config.json"), given != null && Files.isRegularFile(given) ? Json.read(given) : scheduler(ckpt.architecture()));
        }
    }

    /** The pipeline's model_index.json: each component present, [null, null] for the rest; tokenizers copied from the config folder or the bundled one. */
    private ObjectNode modelIndex(SingleFileCheckpoint ckpt, Path dir, Path configs) throws IOException {
        Architecture arch = ckpt.architecture();
        ObjectNode index = JsonNodeFactory.instance.objectNode();
        index.put("_class_name", arch.pipelineClass);
        index.put("_diffusers_version", "0.27.2");
        for (String none : new String[]{"feature_extractor", "image_encoder"}) index.putArray(none).addNull().addNull();
        if (arch.isXl()) index.put("force_zeros_for_empty_prompt", arch == Architecture.SDXL);
        else {
            index.putArray("safety_checker").addNull().addNull();
            index.put("requires_safety_checker", false);
        }
        if (arch == Architecture.SDXL_REFINER) index.put("requires_aesthetics_score", true);
        index.putArray("scheduler").add("diffusers").add("EulerDiscreteScheduler");
        List<String> slots = new ArrayList<>(List.of("text_encoder", "tokenizer", "unet", "vae"));
        if (arch.isXl()) slots.addAll(List.of("text_encoder_2", "tokenizer_2"));
        for (String slot : slots) {
            if (slot.startsWith("tokenizer")) {
                String encoder = slot.replace("tokenizer", "text_encoder");
                boolean copied = ckpt.has(encoder) && copyTokenizer(dir.resolve(slot), configs == null ? null : configs.resolve(slot),
                        slot.equals("tokenizer_2") || arch == Architecture.SD2);
                if (copied) index.putArray(slot).add("transformers").add("CLIPTokenizer");
                else index.putArray(slot).addNull().addNull();
            } else if (!ckpt.has(slot)) {
                index.putArray(slot).addNull().addNull();
                out.println("  no " + slot + " in the checkpoint: model_index.json lists it as null");
            } else if (slot.startsWith("text_encoder"))
                index.putArray(slot).add("transformers").add(ckpt.config(slot).path("architectures").path(0).asText("CLIPTextModel"));
            else index.putArray(slot).add("diffusers").add(slot.equals("unet") ? "UNet2DConditionModel" : "AutoencoderKL");
        }
        return index;
    }

    /**
     * Copies the config folder's tokenizer ({@code given}) when it has one, else the bundled CLIP BPE tokenizer
     * (models/tiny-sd/tokenizer) to {@code to}; OpenCLIP's tokenizers (SD 2.x, SDXL's second) pad with "!" instead of
     * the end-of-text token. False when there is neither.
     */
    private boolean copyTokenizer(Path to, Path given, boolean padWithBang) throws IOException {
        if (given != null && Files.isRegularFile(given.resolve("vocab.json"))) {
            Files.createDirectories(to);
            try (Stream<Path> files = Files.list(given)) {
                for (Path f : files.toList()) if (Files.isRegularFile(f)) Files.copy(f, to.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            }
            out.println("  " + to.getFileName() + " from " + given);
            return true;
        }
        String home = System.getProperty("td.home");
        Path from = home == null ? null : Path.of(home, "models", "tiny-sd", "tokenizer");
        if (from == null || !Files.isRegularFile(from.resolve("vocab.json"))) {
            out.println("  no bundled CLIP tokenizer found: add " + to.getFileName() + "/ (vocab.json, merges.txt) before generating");
            return false;
        }
        Files.createDirectories(to);
        for (String f : new String[]{"vocab.json", "merges.txt"}) Files.copy(from.resolve(f), to.resolve(f), StandardCopyOption.REPLACE_EXISTING);
        String pad = padWithBang ? "!" : "<|endoftext|>";
        ObjectNode config = JsonNodeFactory.instance.objectNode().put("model_max_length", 77).put("tokenizer_class", "CLIPTokenizer")
                .put("do_lower_case", true).put("pad_token", pad);
        writeJson(to.resolve("tokenizer_config.json"), config);
        writeJson(to.resolve("special_tokens_map.json"), JsonNodeFactory.instance.objectNode().put("bos_token", "<|startoftext|>")
                .put("eos_token", "<|endoftext|>").put("pad_token", pad).put("unk_token", "<|endoftext|>"));
        return true;
    }

    /**
     * Euler with the training noise schedule of the original configs (scaled_linear 0.00085..0.012, 1000 steps, leading
     * spacing with offset 1). SD 2.x checkpoints are assumed to be the 768-pixel v-prediction models, as diffusers assumes.
     */
    private static ObjectNode scheduler(Architecture arch) {
        return JsonNodeFactory.instance.objectNode()
                .put("_class_name", "EulerDiscreteScheduler").put("_diffusers_version", "0.27.2")
                .put("num_train_timesteps", 1000).put("beta_start", 0.00085).put("beta_end", 0.012).put("beta_schedule", "scaled_linear")
                .put("prediction_type", arch == Architecture.SD2 ? "v_prediction" : "epsilon")
                .put("interpolation_type", "linear").put("use_karras_sigmas", false)
                .put("timestep_spacing", "leading").put("steps_offset", 1);
    }

    /** A diffusers pipeline folder -> one single-file checkpoint in the original layout. */
    private void toSingleFile(Path dir, Path file, Architecture arch, DType dtype) throws IOException {
        Path indexFile = dir.resolve("model_index.json");
        if (!Files.isRegularFile(indexFile)) throw new NoSuchFileException(indexFile.toString(), null, "not a diffusers pipeline folder");
        JsonNode index = Json.read(indexFile);
        Map<String, StateDict> components = new LinkedHashMap<>();
        try {
            for (String name : SingleFileCheckpoint.COMPONENTS)
                if (index.path(name).path(1).isTextual()) components.put(name, ModelFiles.open(dir.resolve(name)));
            if (arch == null) arch = architecture(dir, index);
            Map<String, Tensor> tensors = SingleFileCheckpoint.toOriginal(components, arch);
            out.println(dir + ": " + arch.id + " pipeline with " + String.join(", ", components.keySet()));
            write(file, null, cast(tensors, dtype), Map.of());
        } finally {
            for (StateDict sd : components.values()) sd.close();
        }
    }

    /** SDXL from the pipeline class (the refiner's model_index asks for an aesthetic score); SD 2.x from its OpenCLIP text encoder (exact GELU); else SD 1.x. */
    private static Architecture architecture(Path dir, JsonNode index) throws IOException {
        String cls = index.path("_class_name").asText("");
        if (cls.startsWith("StableDiffusionXL")) return index.path("requires_aesthetics_score").asBoolean(false) ? Architecture.SDXL_REFINER : Architecture.SDXL;
        Path te = dir.resolve("text_encoder").resolve("config.json");
        return Files.isRegularFile(te) && Json.read(te).path("hidden_act").asText("").equals("gelu") ? Architecture.SD2 : Architecture.SD1;
    }

    private static Map<String, Tensor> all(StateDict weights) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (String k : weights.keys()) m.put(k, weights.get(k));
        return m;
    }

    /** Floating-point tensors converted to {@code dtype} (null: unchanged); integer tensors stay as they are. */
    private static Map<String, Tensor> cast(Map<String, Tensor> tensors, DType dtype) {
        if (dtype == null) return tensors;
        Map<String, Tensor> m = new LinkedHashMap<>();
        tensors.forEach((k, t) -> m.put(k, t.dtype().floating && t.dtype() != dtype ? t.to(dtype) : t));
        return m;
    }

    private void write(Path file, StateDict from, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        if (file.getParent() != null) Files.createDirectories(file.getParent());
        SafetensorsWriter.write(file, tensors, metadata);
        long bytes = 0;
        for (Tensor t : tensors.values()) bytes += t.byteSize();
        out.println("  " + file + ": " + tensors.size() + " tensors, " + bytes + " bytes" + (from == null ? "" : " (from " + from.source() + ")"));
    }

    private static void writeJson(Path file, JsonNode node) throws IOException {
        JSON.writeValue(file.toFile(), node);
    }

    private static void requireEmptyFolder(Path dir) throws IOException {
        if (Files.isRegularFile(dir)) throw new IllegalArgumentException(dir + ": is a file; give a folder for the diffusers pipeline (or a .safetensors name)");
        if (Files.isDirectory(dir))
            try (Stream<Path> s = Files.list(dir)) {
                if (s.findAny().isPresent()) throw new IllegalArgumentException(dir + ": folder is not empty; give a new or empty folder");
            }
    }
}
