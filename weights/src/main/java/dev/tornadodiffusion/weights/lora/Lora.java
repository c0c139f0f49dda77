package dev.tornadodiffusion.weights.lora;

import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.ModelFiles;
import dev.tornadodiffusion.weights.StateDict;
import dev.tornadodiffusion.weights.WeightFormatException;
import dev.tornadodiffusion.weights.checkpoint.Architecture;
import dev.tornadodiffusion.weights.checkpoint.KeyTable;
import dev.tornadodiffusion.weights.checkpoint.SingleFileCheckpoint;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A LoRA: low-rank updates {@code W' = W + scale * ((up * alpha) / rank) @ down} of a model's Linear and Conv2d
 * weights (convolutions flattened to {@code [out, in*kh*kw]}), merged into a copy of the affected weights with
 * {@link #applyTo}. Two file layouts:
 * <ul>
 *   <li>kohya-ss ({@code lora_unet_*}, {@code lora_te_*} / {@code lora_te1_*} / {@code lora_te2_*}, each
 *       {@code <name>.lora_down.weight}, {@code .lora_up.weight}, optional 0-dim {@code .alpha}; alpha missing = rank).
 *       The name is the module path with every '.' replaced by '_', which cannot be inverted, so it is matched against
 *       the module names of the weights being patched; UNet names may also be those of the original LDM / SGM UNet
 *       (SDXL trainers write {@code input_blocks_4_1_...}), matched through the single-file checkpoint's key table.</li>
 *   <li>diffusers / PEFT ({@code <component>.<module>.lora_A.weight} / {@code .lora_B.weight}, alpha folded into lora_B;
 *       also the older {@code .lora.down/.up}, {@code .lora_linear_layer.down/.up} and attention-processor
 *       {@code to_q_lora} names).</li>
 * </ul>
 * The LoRA's tensors are copied out of the file when loading (they are small), so a Lora needs no closing.
 */
public final class Lora {
    /** The low-rank update of one module, as named in the file. */
    record Update(String name, String key, Tensor down, Tensor up, Float alpha) {
        int rank() { return down.dim(0); }
    }

    private static final List<String> KOHYA_PREFIXES = List.of("lora_unet_", "lora_te1_", "lora_te2_", "lora_te_");
    private static final List<String> KOHYA_COMPONENTS = List.of("unet", "text_encoder", "text_encoder_2", "text_encoder");

    private final String source;
    private final boolean kohya;
    /** component -> module name (kohya name without prefix, or diffusers module path) -> update. */
    private final Map<String, Map<String, Update>> updates;

    private Lora(String source, boolean kohya, Map<String, Map<String, Update>> updates) {
        this.source = source;
        this.kohya = kohya;
        this.updates = updates;
    }

    /** Reads a LoRA file (any format {@link ModelFiles#open} reads). */
    public static Lora load(Path file) throws IOException {
        try (StateDict sd = ModelFiles.open(file)) {
            return of(sd);
        }
    }

    /** Reads the LoRA in {@code file}, copying its tensors. */
    public static Lora of(StateDict file) {
        boolean kohya = file.keys().stream().anyMatch(k -> k.startsWith("lora_"));
        Map<String, Map<String, Parts>> parts = new LinkedHashMap<>();
        for (String key : file.keys()) {
            String[] at = kohya ? kohyaName(file, key) : diffusersName(file, key);
            Parts p = parts.computeIfAbsent(at[0], c -> new LinkedHashMap<>()).computeIfAbsent(at[1], n -> new Parts());
            Tensor t = file.get(key).contiguous();
            switch (at[2]) {
                case "down" -> p.down = t;
                case "up" -> p.up = t;
                default -> {
                    if (t.numel() != 1) throw new WeightFormatException(file.source() + ": alpha " + WeightFormatException.quote(key) + " has " + t.numel() + " values, expected 1");
                    p.alpha = t.item();
                }
            }
            p.keys.put(at[2], key);
        }
        Map<String, Map<String, Update>> updates = new LinkedHashMap<>();
        parts.forEach((component, modules) -> {
            Map<String, Update> out = new LinkedHashMap<>();
            modules.forEach((name, p) -> out.put(name, p.update(file.source(), name)));
            updates.put(component, Collections.unmodifiableMap(out));
        });
        if (updates.isEmpty()) throw new WeightFormatException(file.source() + ": no LoRA tensors");
        return new Lora(file.source(), kohya, Collections.unmodifiableMap(updates));
    }

    /** The down / up / alpha tensors of one module while reading. */
    private static final class Parts {
        Tensor down, up;
        Float alpha;
        final Map<String, String> keys = new LinkedHashMap<>();

        Update update(String source, String name) {
            String any = keys.values().iterator().next();
            if (down == null || up == null)
                throw new WeightFormatException(source + ": LoRA module of " + WeightFormatException.quote(any) + " has no " + (down == null ? "down (A)" : "up (B)") + " weight");
            int r = down.dim(0);
            if (down.rank() < 2 || up.rank() < 2 || up.dim(1) != r || r == 0)
                throw new WeightFormatException(source + ": LoRA module of " + WeightFormatException.quote(any) + ": down " + Arrays.toString(down.shape())
                        + " and up " + Arrays.toString(up.shape()) + " do not share a rank");
            return new Update(name, keys.getOrDefault("down", any), down, up, alpha);
        }
    }

    /** {component, kohya name without prefix, down|up|alpha} of a kohya key. */
    private static String[] kohyaName(StateDict file, String key) {
        int dot = key.indexOf('.');
        String name = dot < 0 ? key : key.substring(0, dot), suffix = dot < 0 ? "" : key.substring(dot + 1);
        String part = switch (suffix) {
            case "lora_down.weight" -> "down";
            case "lora_up.weight" -> "up";
            case "alpha" -> "alpha";
            default -> throw new WeightFormatException(file.source() + ": unsupported LoRA tensor " + WeightFormatException.quote(key)
                    + " (only LoRA lora_down / lora_up / alpha tensors are supported, not LoHa, LoKr, DoRA or full diffs)");
        };
        for (int i = 0; i < KOHYA_PREFIXES.size(); i++)
            if (name.startsWith(KOHYA_PREFIXES.get(i))) return new String[]{KOHYA_COMPONENTS.get(i), name.substring(KOHYA_PREFIXES.get(i).length()), part};
        throw new WeightFormatException(file.source() + ": LoRA tensor " + WeightFormatException.quote(key) + " names no known model (prefixes: "
                + String.join(", ", KOHYA_PREFIXES) + ")");
    }

    /** Suffixes of diffusers-layout LoRA tensors and what they hold. */
    private static final String[][] DIFFUSERS_SUFFIXES = {
            {".lora_A.weight", "down"}, {".lora_B.weight", "up"}, {".lora.down.weight", "down"}, {".lora.up.weight", "up"},
            {".lora_linear_layer.down.weight", "down"}, {".lora_linear_layer.up.weight", "up"}, {".down.weight", "down"}, {".up.weight", "up"},
            {".alpha", "alpha"}};

    /** Attention-processor LoRA names (diffusers before PEFT) and the module they patch in the UNet and in CLIP. */
    private static final Map<String, String[]> PROCESSOR_NAMES = Map.of(
            "to_q_lora", new String[]{"to_q", "q_proj"}, "to_k_lora", new String[]{"to_k", "k_proj"},
            "to_v_lora", new String[]{"to_v", "v_proj"}, "to_out_lora", new String[]{"to_out.0", "out_proj"});

    /** {component, diffusers module, down|up|alpha} of a diffusers / PEFT key. */
    private static String[] diffusersName(StateDict file, String key) {
        int dot = key.indexOf('.');
        String component = dot < 0 ? "" : key.substring(0, dot);
        if (!SingleFileCheckpoint.COMPONENTS.contains(component) || component.equals("vae"))
            throw new WeightFormatException(file.source() + ": LoRA tensor " + WeightFormatException.quote(key)
                    + " names no known model (expected unet., text_encoder. or text_encoder_2. in front, or a kohya lora_unet_ / lora_te_ name)");
        String rest = key.substring(dot + 1);
        for (String[] s : DIFFUSERS_SUFFIXES) {
            if (!rest.endsWith(s[0])) continue;
            String module = rest.substring(0, rest.length() - s[0].length()).replace(".processor.", ".");
            String last = module.substring(module.lastIndexOf('.') + 1);
            String[] processor = PROCESSOR_NAMES.get(last);
            if (processor != null) module = module.substring(0, module.length() - last.length()) + processor[component.equals("unet") ? 0 : 1];
            else if (s[0].equals(".down.weight") || s[0].equals(".up.weight")) continue;
            return new String[]{component, module, s[1]};
        }
        throw new WeightFormatException(file.source() + ": unsupported LoRA tensor " + WeightFormatException.quote(key)
                + " (expected lora_A / lora_B weights, or lora.down / lora.up)");
    }

    public String source() { return source; }

    /** {@code kohya} or {@code diffusers} (PEFT and older diffusers names). */
    public String format() { return kohya ? "kohya" : "diffusers"; }

    /** The models this LoRA patches: {@code unet}, {@code text_encoder}, {@code text_encoder_2}. */
    public Set<String> components() { return updates.keySet(); }

    /**
     * {@code base} (the weights of {@code component}, diffusers / transformers key names) with every module this LoRA
     * patches merged at strength {@code scale}. {@code base} is not changed: the result is an overlay whose patched
     * weights are computed when read (in float32, stored back in the base tensor's dtype, as diffusers' fuse_lora does)
     * and whose other tensors are base's own; closing it leaves base open. Dropping the overlay removes the LoRA (a LoRA
     * without updates for {@code component} gives an overlay that changes nothing). A LoRA module that matches no
     * module of {@code base}, or whose shapes do not fit it, is an error naming the LoRA key.
     */
    public StateDict applyTo(StateDict base, String component, float scale) {
        Map<String, Update> mine = updates.getOrDefault(component, Map.of());
        Map<String, String> modules = kohya && !mine.isEmpty() ? kohyaModules(base, component) : null;
        Map<String, Update> byWeight = new LinkedHashMap<>();
        for (Update u : mine.values()) {
            String module = kohya ? modules.get(u.name()) : u.name();
            if (AMBIGUOUS.equals(module))
                throw new WeightFormatException(source + ": LoRA " + WeightFormatException.quote(u.key()) + " matches more than one module of " + component);
            if (module == null || !base.contains(module + ".weight"))
                throw new WeightFormatException(source + ": LoRA " + WeightFormatException.quote(u.key()) + " matches no module of " + component
                        + " (" + base.source() + ")");
            String weight = module + ".weight";
            Update before = byWeight.put(weight, u);
            if (before != null)
                throw new WeightFormatException(source + ": LoRA " + WeightFormatException.quote(before.key()) + " and " + WeightFormatException.quote(u.key())
                        + " both patch " + WeightFormatException.quote(weight));
            LoraOverlay.checkShapes(u, base.get(weight), source);
        }
        return new LoraOverlay(base, byWeight, scale, source);
    }

    private static final String AMBIGUOUS = "\0ambiguous";

    /**
     * Kohya name -> module path for every weight of {@code base}: '.' replaced by '_' in the diffusers names and, for
     * the UNet, in the original LDM / SGM names of the same modules (through the single-file key table).
     */
    private static Map<String, String> kohyaModules(StateDict base, String component) {
        Map<String, String> names = new HashMap<>();
        KeyTable original = component.equals("unet") && base.keys().stream().anyMatch(k -> k.startsWith("down_blocks."))
                ? SingleFileCheckpoint.table("unet", base.keys(), Architecture.SDXL, base.source()) : null;
        for (String key : base.keys()) {
            if (!key.endsWith(".weight")) continue;
            String module = key.substring(0, key.length() - ".weight".length());
            add(names, module.replace('.', '_'), module);
            KeyTable.Source s = original == null ? null : original.findOriginal(key);
            if (s != null && s.key().endsWith(".weight")) add(names, s.key().substring(0, s.key().length() - ".weight".length()).replace('.', '_'), module);
        }
        return names;
    }

    private static void add(Map<String, String> names, String kohya, String module) {
        String before = names.putIfAbsent(kohya, module);
        if (before != null && !before.equals(module)) names.put(kohya, AMBIGUOUS);
    }
}
