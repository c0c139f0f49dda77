package dev.tornadodiffusion.weights.checkpoint;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.ModelFiles;
import dev.tornadodiffusion.weights.StateDict;
import dev.tornadodiffusion.weights.WeightFormatException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A single-file checkpoint ({@code .safetensors} or a torch {@code .ckpt}) in the original layout, seen as diffusers
 * components: {@code unet}, {@code vae}, {@code text_encoder}, {@code text_encoder_2}, each a {@link StateDict} with
 * diffusers / transformers key names whose tensors are views of the file (renamed and reshaped at load time through
 * {@link KeyTable}, never copied).
 * <pre>
 *   model.diffusion_model.*                UNet (LDM / SGM UNetModel)                  all
 *   first_stage_model.*                    VAE (LDM AutoencoderKL)                     all
 *   cond_stage_model.transformer.*         text_encoder, OpenAI CLIP (transformers)    SD 1.x
 *   cond_stage_model.model.*               text_encoder, OpenCLIP ViT-H                SD 2.x
 *   conditioner.embedders.0.transformer.*  text_encoder, OpenAI CLIP (transformers)    SDXL
 *   conditioner.embedders.1.model.*        text_encoder_2, OpenCLIP bigG               SDXL (refiner: embedders.0)
 * </pre>
 * Other keys (EMA copies, scheduler buffers) are not model weights and are skipped. A file holding only a UNet or only
 * a VAE, in either layout and without prefix (SDXL-Lightning's UNet, a fine-tuned VAE), opens as that one component.
 * The architecture is guessed from the keys unless given; {@link #config} gives each component's diffusers config,
 * read from the keys where they tell it and from the original configs otherwise.
 */
public final class SingleFileCheckpoint implements AutoCloseable {
    public static final List<String> COMPONENTS = List.of("unet", "vae", "text_encoder", "text_encoder_2");

    private enum Kind { UNET, VAE, CLIP, OPEN_CLIP }

    /** Where one component lives in the file. */
    private record Part(String component, String prefix, Kind kind) {}

    private static final String UNET = "model.diffusion_model.", VAE = "first_stage_model.";

    private final StateDict file;
    private final Architecture architecture;
    private final Map<String, MappedStateDict> components = new LinkedHashMap<>();

    private SingleFileCheckpoint(StateDict file, Architecture architecture) {
        this.file = file;
        this.architecture = architecture;
    }

    /** Opens {@code path} (any format {@link ModelFiles#open} reads) and guesses its architecture from the keys. */
    public static SingleFileCheckpoint open(Path path) throws IOException {
        return open(path, null);
    }

    /** Opens {@code path} as {@code architecture}, or guessed from the keys when null. */
    public static SingleFileCheckpoint open(Path path, Architecture architecture) throws IOException {
        StateDict file = ModelFiles.open(path);
        try {
            return of(file, architecture);
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    /**
     * Component {@code component} of the file at {@code path} (guessed architecture), owning the file: closing it closes
     * the file, so a model built on it releases everything ({@code --unet FILE}: SDXL-Lightning's UNet in diffusers
     * names, or a UNet in the original layout).
     */
    public static StateDict openComponent(Path path, String component) throws IOException {
        SingleFileCheckpoint c = open(path);
        try {
            c.component(component);   // a missing component is an error naming the file and what it has
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
        return c.components.get(component).owningFile();
    }

    /** The components of {@code file} (which the returned checkpoint owns and closes). */
    public static SingleFileCheckpoint of(StateDict file, Architecture architecture) {
        Set<String> keys = file.keys();
        List<Part> parts = bareComponent(keys);
        Architecture arch = architecture != null ? architecture : guess(file, parts.isEmpty() ? UNET : "");
        if (parts.isEmpty()) parts = parts(arch);
        SingleFileCheckpoint c = new SingleFileCheckpoint(file, arch);
        for (Part p : parts) {
            List<String> own = new ArrayList<>();
            for (String k : keys) if (k.startsWith(p.prefix)) own.add(k.substring(p.prefix.length()));
            if (own.isEmpty()) continue;
            String source = file.source() + " (" + p.component + ")";
            c.components.put(p.component, new MappedStateDict(file, table(p, own, arch, source).toDiffusers(own, p.prefix), source));
        }
        if (c.components.isEmpty())
            throw new WeightFormatException(file.source() + ": not a Stable Diffusion checkpoint: no keys under " + String.join(", ", parts.stream().map(Part::prefix).toList())
                    + " and no UNet or VAE keys");
        return c;
    }

    /** A file that holds one UNet or VAE without prefix. */
    private static List<Part> bareComponent(Set<String> keys) {
        if (keys.contains("input_blocks.0.0.weight") || keys.contains("conv_in.weight") && keys.stream().anyMatch(k -> k.startsWith("down_blocks.")))
            return List.of(new Part("unet", "", Kind.UNET));
        if (keys.contains("encoder.conv_in.weight") && keys.contains("decoder.conv_in.weight"))
            return List.of(new Part("vae", "", Kind.VAE));
        return List.of();
    }

    private static List<Part> parts(Architecture arch) {
        List<Part> parts = new ArrayList<>(List.of(new Part("unet", UNET, Kind.UNET), new Part("vae", VAE, Kind.VAE)));
        switch (arch) {
            case SD1 -> parts.add(new Part("text_encoder", "cond_stage_model.transformer.", Kind.CLIP));
            case SD2 -> parts.add(new Part("text_encoder", "cond_stage_model.model.", Kind.OPEN_CLIP));
            case SDXL -> {
                parts.add(new Part("text_encoder", "conditioner.embedders.0.transformer.", Kind.CLIP));
                parts.add(new Part("text_encoder_2", "conditioner.embedders.1.model.", Kind.OPEN_CLIP));
            }
            case SDXL_REFINER -> parts.add(new Part("text_encoder_2", "conditioner.embedders.0.model.", Kind.OPEN_CLIP));
        }
        return parts;
    }

    /**
     * The architecture the keys show: the text encoders' prefixes decide; without text encoders, a UNet with
     * {@code label_emb} (text_time conditioning) is SDXL (the refiner has 4 levels), one with Linear proj_in is SD 2.x.
     */
    static Architecture guess(StateDict file, String unetPrefix) {
        Set<String> keys = file.keys();
        boolean embedders0Model = false, embedders0Transformer = false, embedders1 = false, sd2 = false, sd1 = false;
        for (String k : keys) {
            embedders0Model |= k.startsWith("conditioner.embedders.0.model.");
            embedders0Transformer |= k.startsWith("conditioner.embedders.0.transformer.");
            embedders1 |= k.startsWith("conditioner.embedders.1.");
            sd2 |= k.startsWith("cond_stage_model.model.");
            sd1 |= k.startsWith("cond_stage_model.transformer.");
        }
        if (embedders1 || embedders0Transformer) return Architecture.SDXL;
        if (embedders0Model) return Architecture.SDXL_REFINER;
        if (sd2) return Architecture.SD2;
        if (sd1) return Architecture.SD1;
        List<String> unet = new ArrayList<>();
        for (String k : keys) if (k.startsWith(unetPrefix)) unet.add(k.substring(unetPrefix.length()));
        boolean original = UNetLayout.isOriginal(unet);
        if (unet.contains(original ? "label_emb.0.0.weight" : "add_embedding.linear_1.weight")) {
            int levels = original ? UNetLayout.fromOriginal(unet, "unet").levels() : UNetLayout.fromDiffusers(unet, "unet").levels();
            return levels == 4 ? Architecture.SDXL_REFINER : Architecture.SDXL;
        }
        for (String k : unet)
            if (k.endsWith(".proj_in.weight")) return file.get(unetPrefix + k).rank() == 2 ? Architecture.SD2 : Architecture.SD1;
        return Architecture.SD1;
    }

    private static KeyTable table(Part p, Collection<String> keys, Architecture arch, String source) {
        return switch (p.kind) {
            case UNET -> UNetLayout.isOriginal(keys) ? UNetLayout.table(UNetLayout.fromOriginal(keys, source)) : identity(keys);
            case VAE -> keys.stream().anyMatch(k -> k.startsWith("encoder.down.") || k.startsWith("decoder.up."))
                    ? VaeLayout.table(VaeLayout.fromOriginal(keys, source)) : identity(keys);
            case CLIP -> ClipLayout.transformers(keys);
            case OPEN_CLIP -> ClipLayout.openClip(ClipLayout.openClipLayers(keys), arch == Architecture.SD2 && keys.contains("text_projection"));
        };
    }

    private static KeyTable identity(Collection<String> keys) {
        KeyTable t = new KeyTable();
        for (String k : keys) t.module(k, k);
        return t;
    }

    /**
     * The table between the diffusers keys {@code diffusersKeys} of {@code component} and its original layout in an
     * {@code arch} checkpoint: the one loading uses, built from the diffusers side.
     */
    public static KeyTable table(String component, Collection<String> diffusersKeys, Architecture arch, String source) {
        return switch (component) {
            case "unet" -> UNetLayout.table(UNetLayout.fromDiffusers(diffusersKeys, source));
            case "vae" -> VaeLayout.table(VaeLayout.fromDiffusers(diffusersKeys, source));
            case "text_encoder" -> arch == Architecture.SD2 ? ClipLayout.openClip(ClipLayout.transformersLayers(diffusersKeys), false)
                    : ClipLayout.transformers(diffusersKeys);
            case "text_encoder_2" -> ClipLayout.openClip(ClipLayout.transformersLayers(diffusersKeys), false);
            default -> throw new IllegalArgumentException("unknown component '" + component + "' (known: " + String.join(", ", COMPONENTS) + ")");
        };
    }

    public Architecture architecture() { return architecture; }

    /** The components present, in the order of {@link #COMPONENTS}. */
    public Set<String> components() { return components.keySet(); }

    public boolean has(String component) { return components.containsKey(component); }

    /** The weights of {@code component} under diffusers names; valid until {@link #close()}. */
    public StateDict component(String component) {
        StateDict c = components.get(component);
        if (c == null)
            throw new WeightFormatException(file.source() + ": no " + component + " in this checkpoint (it has " + String.join(", ", components.keySet()) + ")");
        return c;
    }

    /** The diffusers / transformers config.json of {@code component}: sizes from the keys, the rest from the original configs. */
    public ObjectNode config(String component) {
        return SingleFileConfigs.of(component, component(component), architecture);
    }

    /** Closes the file: every component's tensors become invalid. */
    @Override
    public void close() {
        file.close();
    }

    /**
     * The original single-file layout of diffusers components (name -> weights with diffusers keys), ready for
     * {@code SafetensorsWriter}: the inverse of loading, through the same tables. An SD 2.x text encoder is written as
     * diffusers' conversion script writes it: the layers diffusers keeps, no text_projection (the original model's last
     * OpenCLIP layer is not in a diffusers folder).
     */
    public static Map<String, Tensor> toOriginal(Map<String, StateDict> components, Architecture arch) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Part p : parts(arch)) {
            StateDict sd = components.get(p.component);
            if (sd != null) out.putAll(table(p.component, sd.keys(), arch, sd.source()).toOriginal(sd, p.prefix));
        }
        for (String name : components.keySet())
            if (parts(arch).stream().noneMatch(p -> p.component.equals(name)))
                throw new IllegalArgumentException("an " + arch.id + " checkpoint has no place for component '" + name + "'");
        return out;
    }
}
