package dev.tornadodiffusion.diffusion.pipelines;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.diffusion.schedulers.SchedulerConfig;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Compare;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Json;
import dev.tornadodiffusion.weights.Safetensors;
import dev.tornadodiffusion.weights.WeightFormatException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * A pipeline reference case (pipeline-sd / pipeline-sdxl): the case folder is a diffusers pipeline; every run in
 * meta.json is generated from the saved embeddings and latents with its scheduler, and the timesteps, latents after
 * every step, raw UNet outputs, decoded image and final image are compared with {@code |a-b| <= rel * (1 + |b|)}
 * (SDXL's add_time_ids exactly). SDXL cases pass pooled and negative pooled embeddings from inputs.safetensors.
 */
public final class PipelineParity {
    private PipelineParity() {}

    public static List<Compare.Check> run(Path caseDir, Backend be) throws IOException {
        JsonNode meta = Json.read(caseDir.resolve("meta.json"));
        double rel = meta.path("tolerance").path("rel").asDouble(Double.NaN);
        if (Double.isNaN(rel)) throw new WeightFormatException(caseDir.resolve("meta.json") + ": no tolerance.rel");
        List<Compare.Check> checks = new ArrayList<>();
        try (Pipeline base = Pipelines.load(caseDir, be, LoadOptions.DEFAULT);
             Safetensors in = Safetensors.open(caseDir.resolve("inputs.safetensors"));
             Safetensors out = Safetensors.open(caseDir.resolve("outputs.safetensors"))) {
            for (Iterator<Map.Entry<String, JsonNode>> it = meta.path("runs").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String name = e.getKey();
                JsonNode run = e.getValue();
                SchedulerConfig sc = SchedulerConfig.read(caseDir.resolve(run.path("scheduler_folder").asText("scheduler")).resolve("scheduler_config.json"));
                UNetPipeline p = ((UNetPipeline) base).withScheduler(sc);
                int steps = run.path("num_inference_steps").asInt();
                if (out.contains(name + "/timesteps"))
                    checks.add(Compare.absolute(name + "/timesteps", p.timesteps(steps), out.get(name + "/timesteps"), 0));
                Tensor image = out.get(name + "/image");
                GenerationRequest.Builder rb = GenerationRequest.builder(null)
                        .steps(steps)
                        .guidanceScale((float) run.path("guidance_scale").asDouble())
                        .height(image.dim(1)).width(image.dim(2))
                        .latents(in.get("latents"))
                        .promptEmbeds(in.get("prompt_embeds"));
                if (in.contains("negative_prompt_embeds")) rb.negativePromptEmbeds(in.get("negative_prompt_embeds"));
                if (in.contains("pooled_prompt_embeds")) rb.pooledPromptEmbeds(in.get("pooled_prompt_embeds"));
                if (in.contains("negative_pooled_prompt_embeds")) rb.negativePooledPromptEmbeds(in.get("negative_pooled_prompt_embeds"));
                List<Tensor> latents = new ArrayList<>(), outputs = new ArrayList<>();
                GenerationResult r = p.generate(rb.build(), new Progress() {
                    @Override public void step(int step, int total, double s, Tensor l) { latents.add(l.unsqueeze(0)); }
                    @Override public void modelOutput(int step, Tensor o) { outputs.add(o.unsqueeze(0)); }
                });
                if (out.contains(name + "/latents_per_step"))
                    checks.add(Compare.relative(name + "/latents_per_step", be.concat(0, latents.toArray(Tensor[]::new)), out.get(name + "/latents_per_step"), rel));
                if (out.contains(name + "/unet_out_per_step"))
                    checks.add(Compare.relative(name + "/unet_out_per_step", be.concat(0, outputs.toArray(Tensor[]::new)), out.get(name + "/unet_out_per_step"), rel));
                if (out.contains(name + "/vae_decoded"))
                    checks.add(Compare.relative(name + "/vae_decoded", p.decodeRaw(r.latents()), out.get(name + "/vae_decoded"), rel));
                checks.add(Compare.relative(name + "/image", r.images(), image, rel));
                if (p instanceof StableDiffusionXLPipeline xl && out.contains(name + "/add_time_ids")) {
                    GenerationRequest req = rb.build();
                    boolean doCfg = req.guidanceScale() > 1 && xl.unet.config.time_cond_proj_dim() == null;
                    Tensor ids = xl.addTimeIds(req, image.dim(1), image.dim(2), req.promptEmbeds().dim(0), doCfg, false);
                    checks.add(Compare.absolute(name + "/add_time_ids", ids, out.get(name + "/add_time_ids"), 0));
                }
            }
        }
        return checks;
    }
}
