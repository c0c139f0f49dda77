package dev.tornadodiffusion.parity;

import dev.tornadodiffusion.diffusion.pipelines.GenerationRequest;
import dev.tornadodiffusion.diffusion.pipelines.GenerationResult;
import dev.tornadodiffusion.diffusion.pipelines.LoadOptions;
import dev.tornadodiffusion.diffusion.pipelines.Pipeline;
import dev.tornadodiffusion.diffusion.pipelines.Progress;
import dev.tornadodiffusion.diffusion.pipelines.StableDiffusionXLPipeline;
import dev.tornadodiffusion.diffusion.pipelines.UNetPipeline;
import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.diffusion.schedulers.SchedulerConfig;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Compare.Check;
import dev.tornadodiffusion.tensor.Tensor;

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
 * (SDXL's add_time_ids exactly); a reference output no run compares fails. SDXL cases pass pooled and negative
 * pooled embeddings from inputs.safetensors.
 */
public final class PipelineParity {
    private PipelineParity() {}

    public static List<Check> run(Path caseDir, Backend be) throws IOException {
        try (ParityCase c = ParityCase.open(caseDir); Pipeline base = Pipeline.load(caseDir, be, LoadOptions.DEFAULT)) {
            double rel = c.number("tolerance", "rel");
            for (Iterator<Map.Entry<String, JsonNode>> it = c.meta.path("runs").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String name = e.getKey();
                JsonNode run = e.getValue();
                SchedulerConfig sc = SchedulerConfig.read(caseDir.resolve(run.path("scheduler_folder").asText("scheduler")).resolve("scheduler_config.json"));
                UNetPipeline p = ((UNetPipeline) base).withScheduler(sc);
                int steps = run.path("num_inference_steps").asInt();
                if (c.outputNames().contains(name + "/timesteps"))
                    c.exact(name + "/timesteps", p.timesteps(steps));
                Tensor image = c.expected(name + "/image");
                GenerationRequest.Builder rb = GenerationRequest.builder(null)
                        .steps(steps)
                        .guidanceScale((float) run.path("guidance_scale").asDouble())
                        .height(image.dim(1)).width(image.dim(2))
                        .latents(c.input("latents"))
                        .promptEmbeds(c.input("prompt_embeds"));
                if (c.inputNames().contains("negative_prompt_embeds")) rb.negativePromptEmbeds(c.input("negative_prompt_embeds"));
                if (c.inputNames().contains("pooled_prompt_embeds")) rb.pooledPromptEmbeds(c.input("pooled_prompt_embeds"));
                if (c.inputNames().contains("negative_pooled_prompt_embeds")) rb.negativePooledPromptEmbeds(c.input("negative_pooled_prompt_embeds"));
                List<Tensor> latents = new ArrayList<>(), outputs = new ArrayList<>();
                GenerationResult r = p.generate(rb.build(), new Progress() {
                    @Override public void step(int step, int total, double s, Tensor l) { latents.add(l.unsqueeze(0)); }
                    @Override public boolean wantsModelOutput() { return true; }
                    @Override public void modelOutput(int step, Tensor o) { outputs.add(o.unsqueeze(0)); }
                });
                if (c.outputNames().contains(name + "/latents_per_step"))
                    c.relative(name + "/latents_per_step", be.concat(0, latents.toArray(Tensor[]::new)), rel);
                if (c.outputNames().contains(name + "/unet_out_per_step"))
                    c.relative(name + "/unet_out_per_step", be.concat(0, outputs.toArray(Tensor[]::new)), rel);
                if (c.outputNames().contains(name + "/vae_decoded"))
                    c.relative(name + "/vae_decoded", p.decodeRaw(r.latents()), rel);
                c.relative(name + "/image", r.images(), rel);
                if (p instanceof StableDiffusionXLPipeline xl && c.outputNames().contains(name + "/add_time_ids")) {
                    GenerationRequest req = rb.build();
                    boolean doCfg = req.guidanceScale() > 1 && xl.unet.config.time_cond_proj_dim() == null;
                    c.exact(name + "/add_time_ids", xl.addTimeIds(req, image.dim(1), image.dim(2), req.embeddings().prompt().dim(0), doCfg, false));
                }
            }
            return c.checks();
        }
    }
}
