package dev.tornadodiffusion.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.diffusion.pipelines.ImageSize;
import dev.tornadodiffusion.diffusion.schedulers.Samplers;
import dev.tornadodiffusion.nn.vae.AutoencoderKLConfig;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Json;
import dev.tornadodiffusion.weights.JsonConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Usage checks that need no weights: made before a model is loaded, one line each (exit code 2). */
final class Checks {
    private Checks() {}

    static void generate(Args a, Path model) throws IOException {
        if (a.has("sampler")) sampler(a.get("sampler", ""), pipelineClassIfAny(model));
        if (a.has("steps")) range(a, "steps", a.getInt("steps", 0), 1, 1000);
        if (a.has("batch")) range(a, "batch", a.getInt("batch", 1), 1, 64);
        if (a.has("guidance")) finite("guidance", a.getFloat("guidance", 0), 0, 100);
        if (a.has("guidance-rescale")) finite("guidance-rescale", a.getFloat("guidance-rescale", 0), 0, 1);
        if (a.has("denoising-end")) {
            float v = a.getFloat("denoising-end", 0);
            if (!(v > 0 && v < 1)) throw new UsageException("--denoising-end must be in (0, 1), got " + a.get("denoising-end", ""));
        }
        if (a.has("strength")) {
            if (!a.has("init-image")) throw new UsageException("--strength applies to image-to-image: pass --init-image too");
            float v = a.getFloat("strength", 0);
            if (!(v > 0 && v <= 1)) throw new UsageException("--strength must be in (0, 1], got " + a.get("strength", ""));
        }
        if (a.has("clip-skip")) {
            int skip = a.getInt("clip-skip", 0), layers = encoderLayers(model);
            if (skip < 0) throw new UsageException("--clip-skip must be >= 0, got " + skip);
            if (layers > 0 && skip >= layers)
                throw new UsageException("--clip-skip must be in 0.." + (layers - 1) + " (the text encoder has " + layers + " layers), got " + skip);
        }
        if (a.has("lora"))
            for (String spec : a.get("lora", "").split(",")) {
                Path file = GenerateCommand.parseLora(spec.trim()).file();
                if (!Files.isRegularFile(file)) throw new UsageException("--lora " + file + ": no such file");
            }
        if (a.has("unet") && !Files.exists(Path.of(a.get("unet", null))))
            throw new UsageException("--unet " + a.get("unet", null) + ": no such file or folder");
        if (a.has("refiner")) {
            Path refiner = Path.of(a.get("refiner", null));
            String base = pipelineClass("model", model), ref = pipelineClass("refiner", refiner);
            if (!family(base).equals("SDXL") || !family(ref).equals("SDXL"))
                throw new UsageException("--refiner " + refiner + " (" + ref + ") cannot refine " + model + " (" + base + "): both must be SDXL pipelines");
        }
    }

    /** The size an init image renders at ({@link ImageSize#initImage}, with the model's VAE factor); above the limit a usage error. */
    static ImageSize initImageSize(Path model, Tensor image, Args a) throws IOException {
        Path vae = model.resolve("vae").resolve("config.json");
        int factor = Files.isRegularFile(vae) ? AutoencoderKLConfig.from(JsonConfig.read(vae)).downscale() : 8;
        try {
            return ImageSize.initImage(image.dim(1), image.dim(0), a.has("width") ? a.getInt("width", 0) : null,
                    a.has("height") ? a.getInt("height", 0) : null, factor);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
    }

    /** A server takes prompts: its pipeline needs a text encoder. */
    static void serve(Path model) throws IOException {
        Path index = model.resolve("model_index.json");
        if (!Files.isRegularFile(index)) return;
        JsonNode mi = Json.read(index);
        if (mi.path("_class_name").asText("").equals("TLDPipeline")) return;
        if (!present(mi, "text_encoder") && !present(mi, "text_encoder_2"))
            throw new UsageException(model + " has no text encoder: a server needs one to turn prompts into embeddings");
    }

    private static boolean present(JsonNode mi, String component) {
        JsonNode e = mi.path(component);
        return e.isArray() && e.size() == 2 && !e.get(0).isNull() && !e.get(1).isNull();
    }

    /** A sampler name the model can run: TLD's own two, else every name the schedulers know (A1111's included). */
    private static void sampler(String name, String pipelineClass) {
        if (pipelineClass.equals("TLDPipeline")) {
            var offered = Samplers.forPipeline(pipelineClass);
            if (Samplers.find(offered, name) == null)
                throw new UsageException("--sampler '" + name + "' is not known (" + String.join(", ", offered.stream().map(Samplers.Sampler::id).toList()) + ")");
            return;
        }
        try {
            Samplers.check(name);
        } catch (IllegalArgumentException e) {
            throw new UsageException("--sampler: " + e.getMessage());
        }
    }

    private static String pipelineClassIfAny(Path dir) throws IOException {
        Path index = dir.resolve("model_index.json");
        return Files.isRegularFile(index) ? Json.read(index).path("_class_name").asText("") : "";
    }

    private static void range(Args a, String name, int v, int min, int max) {
        if (v < min || v > max) throw new UsageException("--" + name + " must be in " + min + ".." + max + ", got " + a.get(name, ""));
    }

    private static void finite(String name, float v, float min, float max) {
        if (!(v >= min && v <= max)) throw new UsageException("--" + name + " must be a number in " + min + ".." + max + ", got " + v);
    }

    private static int encoderLayers(Path model) throws IOException {
        Path config = model.resolve("text_encoder").resolve("config.json");
        if (!Files.isRegularFile(config)) config = model.resolve("text_encoder_2").resolve("config.json");
        return Files.isRegularFile(config) ? Json.read(config).path("num_hidden_layers").asInt(0) : 0;
    }

    private static String pipelineClass(String option, Path dir) throws IOException {
        Path index = dir.resolve("model_index.json");
        if (!Files.isRegularFile(index)) throw new UsageException("--" + option + " " + dir + " is not a pipeline folder: it has no model_index.json");
        return Json.read(index).path("_class_name").asText("");
    }

    private static String family(String pipelineClass) {
        return pipelineClass.startsWith("StableDiffusionXL") ? "SDXL" : pipelineClass.startsWith("StableDiffusion") ? "SD" : pipelineClass;
    }
}
