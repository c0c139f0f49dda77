package dev.tornadodiffusion.cli.web;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.diffusion.pipelines.GenerationRequest;
import dev.tornadodiffusion.cli.Images;
import dev.tornadodiffusion.cli.Seeds;

import java.util.Iterator;
import java.util.Set;

/**
 * The server's own request JSON (POST /generate and the page's jobs): diffusers-style field names, every field checked,
 * an unknown field refused. A seed of -1 or none is random (as in A1111); the chosen seed is in the request.
 */
final class RequestJson {
    static final Set<String> FIELDS = Set.of("prompt", "negative_prompt", "steps", "guidance_scale", "seed", "width", "height",
            "sampler", "sampler_name", "guidance_rescale", "batch", "literal_prompt", "init_image", "mask", "denoising_strength");

    private RequestJson() {}

    static GenerationRequest parse(JsonNode j) {
        if (!j.isObject()) throw new Http.Refused(400, "the request body must be a JSON object");
        for (Iterator<String> it = j.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!FIELDS.contains(f)) throw new Http.Refused(400, "unknown field '" + f + "' (known: " + String.join(", ", new java.util.TreeSet<>(FIELDS)) + ")");
        }
        if (!j.path("prompt").isTextual()) throw new Http.Refused(400, "'prompt' (a string) is required");
        GenerationRequest.Builder b = GenerationRequest.builder(j.get("prompt").asText());
        if (j.has("negative_prompt")) b.negativePrompt(text(j, "negative_prompt"));
        if (j.has("sampler")) b.sampler(text(j, "sampler"));
        if (j.has("sampler_name")) b.sampler(text(j, "sampler_name"));   // A1111's field: "DPM++ 2M Karras", "Euler a", ...
        if (j.has("literal_prompt")) {
            if (!j.get("literal_prompt").isBoolean()) throw bad("literal_prompt", "true or false");
            b.literalPrompt(j.get("literal_prompt").asBoolean());
        }
        if (j.has("init_image")) b.initImage(image(j, "init_image"));
        if (j.has("mask")) b.mask(image(j, "mask"));
        if (j.has("denoising_strength")) b.strength((float) number(j, "denoising_strength", 0, 1));
        else if (j.has("mask")) b.strength(1f);   // diffusers' inpainting starts from pure noise unless told otherwise
        if (j.has("steps")) b.steps(integer(j, "steps", 1, 500));
        if (j.has("width")) b.width(integer(j, "width", 8, 4096));
        if (j.has("height")) b.height(integer(j, "height", 8, 4096));
        if (j.has("batch")) b.batch(integer(j, "batch", 1, 64));
        b.seed(seed(j.path("seed"), "seed"));
        if (j.has("guidance_scale")) b.guidanceScale((float) number(j, "guidance_scale", 0, 100));
        if (j.has("guidance_rescale")) b.guidanceRescale((float) number(j, "guidance_rescale", 0, 1));
        return build(b);
    }

    /** A base64 image (PNG, JPEG, ...; a "data:image/...;base64," prefix allowed) as [H, W, 3] in [0, 1]. */
    static dev.tornadodiffusion.tensor.Tensor image(JsonNode j, String f) {
        String data = text(j, f);
        int comma = data.startsWith("data:") ? data.indexOf(',') : -1;
        try {
            return Images.decode(java.util.Base64.getDecoder().decode(data.substring(comma + 1)), "'" + f + "'");
        } catch (IllegalArgumentException e) {
            throw new Http.Refused(400, "'" + f + "' must be a base64 image: " + e.getMessage());
        } catch (java.io.IOException e) {
            throw new Http.Refused(400, "'" + f + "' could not be read: " + e.getMessage());
        }
    }

    /** A1111's rule: -1 (or nothing) picks a random 32-bit seed. */
    static long seed(JsonNode v, String field) {
        if (v.isMissingNode() || v.isNull() || (v.canConvertToLong() && v.asLong() == -1)) return Seeds.random();
        if (!v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < 0) throw bad(field, "-1 (random) or an integer >= 0");
        return v.asLong();
    }

    static GenerationRequest build(GenerationRequest.Builder b) {
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            throw new Http.Refused(400, e.getMessage());
        }
    }

    static String text(JsonNode j, String f) {
        if (!j.get(f).isTextual()) throw bad(f, "a string");
        return j.get(f).asText();
    }

    static int integer(JsonNode j, String f, int min, int max) {
        JsonNode v = j.get(f);
        if (!v.isIntegralNumber() || v.asLong() < min || v.asLong() > max) throw bad(f, "an integer in " + min + ".." + max);
        return v.asInt();
    }

    static double number(JsonNode j, String f, double min, double max) {
        JsonNode v = j.get(f);
        if (!v.isNumber() || !Double.isFinite(v.asDouble()) || v.asDouble() < min || v.asDouble() > max)
            throw bad(f, "a number in " + min + ".." + max);
        return v.asDouble();
    }

    static Http.Refused bad(String field, String what) {
        return new Http.Refused(400, "'" + field + "' must be " + what);
    }
}
