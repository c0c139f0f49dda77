package dev.tornadodiffusion.diffusion.pipelines;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.diffusion.TorchGenerator;
import dev.tornadodiffusion.diffusion.schedulers.Scheduler;
import dev.tornadodiffusion.diffusion.schedulers.SchedulerConfig;
import dev.tornadodiffusion.nn.ParityCase;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Compare;
import dev.tornadodiffusion.tensor.Compare.Check;
import dev.tornadodiffusion.tensor.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The pipeline-sdxs reference case: per run, the card's loop from the saved embeddings with the run's scheduler
 * folder, the latents and the DDPM variance noise re-drawn from {@code torch.manual_seed(seed)} (and checked
 * bit for bit against the saved draws), then every step's UNet output, guided prediction, x0 and latents, the
 * decoder input, the decoded image and the image, with {@code |a-b| <= rel * (1 + |b|)}.
 */
public final class SdxsParity {
    private SdxsParity() {}

    public static List<Check> run(Path caseDir, Backend be) throws Exception {
        try (ParityCase c = ParityCase.open(caseDir); SdxsPipeline p = SdxsPipeline.load(caseDir, be, LoadOptions.DEFAULT, null)) {
            double rel = c.number("tolerance", "rel");
            for (Iterator<Map.Entry<String, JsonNode>> it = c.meta.path("runs").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String name = e.getKey();
                JsonNode run = e.getValue();
                Scheduler s = Scheduler.fromConfig(SchedulerConfig.read(caseDir.resolve(run.path("scheduler_folder").asText()).resolve("scheduler_config.json")));
                int steps = run.path("num_inference_steps").asInt();
                float guidance = (float) run.path("guidance_scale").asDouble();
                long seed = c.integer("runs", name, "seed (torch.manual_seed)");

                // the card's global generator: the latents, then one variance draw per step with t > 0 (recorded to compare)
                TorchGenerator gen = new TorchGenerator(seed);
                Tensor init = c.input(name + "/latents_init");
                Tensor latents = gen.randn(init.shape());
                c.add(Compare.exact(name + "/latents_init (drawn)", latents, init));
                Tensor[] lastDraw = {null};
                List<Tensor> noise = new ArrayList<>(), unet = new ArrayList<>(), pred = new ArrayList<>(), x0 = new ArrayList<>(), lat = new ArrayList<>();
                List<Long> drawn = new ArrayList<>();
                Tensor out = p.sample(c.input(name + "/embeddings"), latents, s, steps, guidance, shape -> {
                    lastDraw[0] = gen.randn(shape);
                    return lastDraw[0];
                }, Progress.NONE, st -> {
                    unet.add(st.unetOut().unsqueeze(0));
                    pred.add(st.noisePred().unsqueeze(0));
                    x0.add(st.out().predOriginalSample().unsqueeze(0));
                    lat.add(st.out().prevSample().unsqueeze(0));
                    drawn.add(lastDraw[0] != null ? 1L : 0L);
                    noise.add((lastDraw[0] != null ? lastDraw[0] : Tensor.zeros(st.noisePred().shape())).unsqueeze(0));
                    lastDraw[0] = null;
                });
                c.exact(name + "/timesteps", s.timesteps());
                c.add(Compare.exact(name + "/noise_drawn (steps)", Tensor.ofLongs(drawn.stream().mapToLong(Long::longValue).toArray(), drawn.size()), c.input(name + "/noise_drawn")));
                c.add(Compare.exact(name + "/variance_noise_per_step (drawn)", be.concat(0, noise.toArray(Tensor[]::new)), c.input(name + "/variance_noise_per_step")));
                c.relative(name + "/unet_out_per_step", be.concat(0, unet.toArray(Tensor[]::new)), rel);
                c.relative(name + "/noise_pred_per_step", be.concat(0, pred.toArray(Tensor[]::new)), rel);
                c.relative(name + "/pred_original_sample_per_step", be.concat(0, x0.toArray(Tensor[]::new)), rel);
                c.relative(name + "/latents_per_step", be.concat(0, lat.toArray(Tensor[]::new)), rel);
                c.relative(name + "/latents_final", out, rel);
                c.relative(name + "/decoder_input", p.vae.unscaleLatents(out), rel);
                Tensor decoded = p.decodeRaw(out);
                c.relative(name + "/decoded", decoded, rel);
                c.relative(name + "/image", be.clamp(be.add(be.scale(decoded, 0.5f), Tensor.scalar(0.5f)), 0f, 1f), rel);
            }
            return c.checks();
        }
    }
}
