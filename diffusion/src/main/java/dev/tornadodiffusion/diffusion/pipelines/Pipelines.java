package dev.tornadodiffusion.diffusion.pipelines;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.diffusion.schedulers.SchedulerConfig;
import dev.tornadodiffusion.weights.JsonConfig;
import dev.tornadodiffusion.nn.clip.ClipTextConfig;
import dev.tornadodiffusion.nn.clip.ClipTextModel;
import dev.tornadodiffusion.nn.clip.ClipTokenizer;
import dev.tornadodiffusion.nn.unet.UNet2DConditionModel;
import dev.tornadodiffusion.nn.vae.AutoencoderKL;
import dev.tornadodiffusion.nn.vae.AutoencoderTiny;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.weights.Json;
import dev.tornadodiffusion.weights.ModelFiles;
import dev.tornadodiffusion.weights.StateDict;
import dev.tornadodiffusion.weights.checkpoint.SingleFileCheckpoint;
import dev.tornadodiffusion.weights.lora.Lora;
import dev.tornadodiffusion.weights.WeightFormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Loading a pipeline folder by its model_index.json. */
public final class Pipelines {
    private Pipelines() {}

    static Pipeline load(Path dir, Backend be, LoadOptions options) throws IOException {
        if (SdxsPipeline.isSdxsFolder(dir)) return SdxsPipeline.load(dir, be, options, null);   // the sdxs card loads components one by one
        Path index = dir.resolve("model_index.json");
        if (!Files.isRegularFile(index))
            throw new IllegalArgumentException(dir + " is not a pipeline folder: it has no model_index.json");
        JsonNode mi = Json.read(index);
        String cls = mi.path("_class_name").asText("");
        checkLoraTargets(dir, mi, options);
        Pipeline p = switch (cls) {
            case "StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline", "StableDiffusionInpaintPipeline" -> loadSd(dir, mi, be, options);
            case "StableDiffusionXLPipeline", "StableDiffusionXLImg2ImgPipeline", "StableDiffusionXLInpaintPipeline" -> loadSdxl(dir, mi, cls, be, options);
            case "TLDPipeline" -> TLDPipeline.load(dir, mi, be, options);
            default -> throw new IllegalArgumentException(index + ": pipeline class '" + cls + "' is not supported (supported: StableDiffusionPipeline, "
                    + "StableDiffusionImg2ImgPipeline, StableDiffusionInpaintPipeline, StableDiffusionXLPipeline, StableDiffusionXLImg2ImgPipeline, "
                    + "StableDiffusionXLInpaintPipeline, TLDPipeline)");
        };
        if (options.vaeTiny() != null) {
            if (!(p instanceof UNetPipeline u)) {
                p.close();
                throw new IllegalArgumentException("a TAESD decoder needs a UNet pipeline; " + dir + " is " + cls);
            }
            try {
                AutoencoderTiny tiny = AutoencoderTiny.load(options.vaeTiny(), be, null);
                u.vaeStage = new VaeStage(u.vae, tiny);
                int down = tiny.config.downscale(), channels = tiny.config.latent_channels();
                if (down != u.vaeScaleFactor || channels != u.vae.config.latent_channels())
                    throw new IllegalArgumentException("the TAESD at " + options.vaeTiny() + " decodes 1/" + down + " latents of " + channels
                            + " channels; " + dir + " makes 1/" + u.vaeScaleFactor + " latents of " + u.vae.config.latent_channels()
                            + " (taesd is for SD 1.x/2.x, taesdxl for SDXL)");
            } catch (IOException | RuntimeException e) {
                p.close();
                throw e;
            }
        }
        return p;
    }

    private static StableDiffusionPipeline loadSd(Path dir, JsonNode mi, Backend be, LoadOptions o) throws IOException {
        UNet2DConditionModel unet = loadUnet(component(dir, mi, "unet"), be, o);
        AutoencoderKL vae = AutoencoderKL.load(component(dir, mi, "vae"), be, o.variant());
        ClipTokenizer tok = present(mi, "tokenizer") ? ClipTokenizer.load(component(dir, mi, "tokenizer")) : null;
        ClipTextModel te = present(mi, "text_encoder") ? loadTextEncoder(dir, mi, "text_encoder", be, o) : null;
        SchedulerConfig sc = SchedulerConfig.read(component(dir, mi, "scheduler").resolve("scheduler_config.json"));
        return new StableDiffusionPipeline(dir, tok, te, unet, vae, sc, be);
    }

    /** SDXL base or refiner; the refiner's model_index.json names no text_encoder / tokenizer and sets requires_aesthetics_score. */
    private static StableDiffusionXLPipeline loadSdxl(Path dir, JsonNode mi, String cls, Backend be, LoadOptions o) throws IOException {
        UNet2DConditionModel unet = loadUnet(component(dir, mi, "unet"), be, o);
        AutoencoderKL vae = AutoencoderKL.load(component(dir, mi, "vae"), be, o.variant());
        ClipTokenizer tok = present(mi, "tokenizer") ? ClipTokenizer.load(component(dir, mi, "tokenizer")) : null;
        ClipTextModel te = present(mi, "text_encoder") ? loadTextEncoder(dir, mi, "text_encoder", be, o) : null;
        ClipTokenizer tok2 = present(mi, "tokenizer_2") ? ClipTokenizer.load(component(dir, mi, "tokenizer_2")) : null;
        ClipTextModel te2 = present(mi, "text_encoder_2") ? loadTextEncoder(dir, mi, "text_encoder_2", be, o) : null;
        SchedulerConfig sc = SchedulerConfig.read(component(dir, mi, "scheduler").resolve("scheduler_config.json"));
        return new StableDiffusionXLPipeline(dir, cls, tok, te, tok2, te2, unet, vae, sc,
                mi.path("force_zeros_for_empty_prompt").asBoolean(true), mi.path("requires_aesthetics_score").asBoolean(false), be);
    }

    /** A CLIP text encoder, with the projection when model_index.json names CLIPTextModelWithProjection (as diffusers loads it). */
    static ClipTextModel loadTextEncoder(Path dir, JsonNode mi, String name, Backend be, LoadOptions o) throws IOException {
        Path folder = component(dir, mi, name);
        boolean withProjection = mi.get(name).get(1).asText("").equals("CLIPTextModelWithProjection");
        ClipTextConfig config = ClipTextConfig.from(JsonConfig.read(folder.resolve("config.json")));
        return StateDict.loadOrClose(withLoras(ModelFiles.open(folder, o.variant()), name, o), w -> ClipTextModel.load(config, w, be, withProjection));
    }

    /**
     * The folder's UNet, or with {@code --unet FILE} the folder's config over that file's weights: diffusers names, the
     * original LDM / SGM layout, or the UNet of a whole single-file checkpoint (renamed by SingleFileCheckpoint); with
     * {@code --unet DIR} another diffusers UNet folder, config and weights (an inpainting UNet, say).
     */
    static UNet2DConditionModel loadUnet(Path unetDir, Backend be, LoadOptions o) throws IOException {
        boolean replacedFolder = o.unetFile() != null && Files.isDirectory(o.unetFile());
        Path dir = replacedFolder ? o.unetFile() : unetDir;
        var config = UNet2DConditionModel.readConfig(dir.resolve("config.json"));
        StateDict files = o.unetFile() == null || replacedFolder ? ModelFiles.open(dir, o.variant())
                : SingleFileCheckpoint.openComponent(o.unetFile(), "unet");
        return StateDict.loadOrClose(withLoras(files, "unet", o), w -> UNet2DConditionModel.load(config, w, be));
    }

    /** {@code files} with every LoRA of the options merged into {@code component}; closing the result closes the files. */
    static StateDict withLoras(StateDict files, String component, LoadOptions o) throws IOException {
        if (o.loras().isEmpty()) return files;
        StateDict merged = files;
        try {
            for (LoadOptions.Lora l : o.loras()) merged = Lora.load(l.file()).applyTo(merged, component, l.scale());
        } catch (RuntimeException | IOException e) {
            files.close();
            throw e;
        }
        return new Merged(merged, files);
    }

    /** LoRA-merged weights that own the files under them. */
    private record Merged(StateDict view, StateDict files) implements StateDict {
        @Override public String source() { return view.source(); }
        @Override public java.util.Set<String> keys() { return view.keys(); }
        @Override public dev.tornadodiffusion.tensor.Tensor get(String key) { return view.get(key); }
        @Override public void close() { files.close(); }
    }

    /** A LoRA that patches a model the pipeline does not have is an error, not silently dropped. */
    private static void checkLoraTargets(Path dir, JsonNode mi, LoadOptions o) throws IOException {
        for (LoadOptions.Lora l : o.loras())
            for (String c : Lora.load(l.file()).components())
                if (!present(mi, c))
                    throw new IllegalArgumentException(l.file() + ": the LoRA patches '" + c + "', which the pipeline in " + dir + " does not have");
    }

    /** A component named in model_index.json as [library, class] (absent ones are [null, null]). */
    static boolean present(JsonNode mi, String name) {
        JsonNode c = mi.get(name);
        return c != null && c.isArray() && c.size() == 2 && !c.get(0).isNull();
    }

    static Path component(Path dir, JsonNode mi, String name) {
        if (!present(mi, name)) throw new WeightFormatException(dir.resolve("model_index.json") + ": the pipeline has no '" + name + "' component");
        Path p = dir.resolve(name);
        if (!Files.isDirectory(p)) throw new WeightFormatException(dir + ": model_index.json names '" + name + "' but the folder " + p + " is missing");
        return p;
    }
}
