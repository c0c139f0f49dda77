package dev.tornadodiffusion.parity;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.diffusion.TorchGenerator;
import dev.tornadodiffusion.diffusion.pipelines.GenerationRequest;
import dev.tornadodiffusion.diffusion.pipelines.GenerationResult;
import dev.tornadodiffusion.diffusion.pipelines.LoadOptions;
import dev.tornadodiffusion.diffusion.pipelines.Progress;
import dev.tornadodiffusion.diffusion.pipelines.SdxsPipeline;
import dev.tornadodiffusion.diffusion.pipelines.UNetPipeline;
import dev.tornadodiffusion.diffusion.schedulers.Scheduler;
import dev.tornadodiffusion.diffusion.schedulers.SchedulerConfig;
import dev.tornadodiffusion.diffusion.schedulers.SchedulerOutput;
import dev.tornadodiffusion.nn.vae.AutoencoderKL;
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
 * The pipeline-sdxs reference case: per run, the sdxs pipeline generates from the saved embeddings (negative rows
 * first) with the run's scheduler folder and seed, so the latents and the DDPM variance noise come from its
 * generator exactly as from the card's {@code torch.manual_seed}; every step's UNet output and latents, the
 * decoded image and the image are compared with {@code |a-b| <= rel * (1 + |b|)}. The guided prediction and x0 of
 * each step are the scheduler's own, replayed from the pipeline's UNet outputs and latents with a generator
 * reseeded the same way (whose draws are also checked bit for bit against the saved ones).
 */
public final class SdxsParity {
    private SdxsParity() {}

    public static List<Check> run(Path caseDir, Backend be) throws Exception {
        try (ParityCase c = ParityCase.open(caseDir); SdxsPipeline base = SdxsPipeline.load(caseDir, be, LoadOptions.DEFAULT, null);
             AutoencoderKL vae = AutoencoderKL.load(caseDir.resolve("vae"), be, null)) {
            double rel = c.number("tolerance", "rel");
            for (Iterator<Map.Entry<String, JsonNode>> it = c.meta.path("runs").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String name = e.getKey();
                JsonNode run = e.getValue();
                SchedulerConfig sc = SchedulerConfig.read(caseDir.resolve(run.path("scheduler_folder").asText()).resolve("scheduler_config.json"));
                UNetPipeline p = base.withScheduler(sc);
                int steps = run.path("num_inference_steps").asInt();
                float guidance = (float) run.path("guidance_scale").asDouble();
                long seed = c.integer("runs", name, "seed (torch.manual_seed)");
                Tensor emb = c.input(name + "/embeddings"), image = c.expected(name + "/image");
                int b = emb.dim(0) / 2;

                List<Tensor> unet = new ArrayList<>(), latents = new ArrayList<>();
                GenerationResult r = p.generate(GenerationRequest.builder(null).negativePromptEmbeds(emb.narrow(0, 0, b)).promptEmbeds(emb.narrow(0, b, b))
                        .steps(steps).guidanceScale(guidance).seed(seed).height(image.dim(2)).width(image.dim(3)).build(), new Progress() {
                    @Override public void step(int step, int total, double s, Tensor l) { latents.add(l); }
                    @Override public boolean wantsModelOutput() { return true; }
                    @Override public void modelOutput(int step, Tensor o) { unet.add(o); }
                });
                c.exact(name + "/timesteps", p.timesteps(steps));

                // the card's global generator: the latents, then one variance draw per step with t > 0
                TorchGenerator gen = new TorchGenerator(seed);
                Tensor x = gen.randn(c.input(name + "/latents_init").shape());
                c.add(Compare.exact(name + "/latents_init (drawn)", x, c.input(name + "/latents_init")));
                Scheduler s = Scheduler.fromConfig(sc);
                s.setTimesteps(steps);
                List<Tensor> noise = new ArrayList<>(), pred = new ArrayList<>(), x0 = new ArrayList<>();
                long[] drawn = new long[steps];
                for (int i = 0; i < steps; i++) {
                    Tensor[] halves = unet.get(i).chunk(2, 0);
                    Tensor guided = be.add(halves[0], be.scale(be.sub(halves[1], halves[0]), guidance));
                    int step = i;
                    Tensor[] draw = {Tensor.zeros(x.shape())};
                    SchedulerOutput out = s.step(guided, s.timestep(i), x, shape -> {
                        drawn[step] = 1;
                        return draw[0] = gen.randn(shape);
                    });
                    noise.add(draw[0].unsqueeze(0));
                    pred.add(guided.unsqueeze(0));
                    x0.add(out.predOriginalSample().unsqueeze(0));
                    x = latents.get(i);
                }
                c.add(Compare.exact(name + "/noise_drawn (steps)", Tensor.ofLongs(drawn, steps), c.input(name + "/noise_drawn")));
                c.add(Compare.exact(name + "/variance_noise_per_step (drawn)", be.concat(0, noise.toArray(Tensor[]::new)), c.input(name + "/variance_noise_per_step")));
                c.relative(name + "/unet_out_per_step", stack(be, unet), rel);
                c.relative(name + "/noise_pred_per_step", be.concat(0, pred.toArray(Tensor[]::new)), rel);
                c.relative(name + "/pred_original_sample_per_step", be.concat(0, x0.toArray(Tensor[]::new)), rel);
                c.relative(name + "/latents_per_step", stack(be, latents), rel);
                c.relative(name + "/latents_final", r.latents(), rel);
                c.relative(name + "/decoder_input", vae.unscaleLatents(r.latents()), rel);
                c.relative(name + "/decoded", p.decodeRaw(r.latents()), rel);
                c.relative(name + "/image", r.images().transpose(1, 3).transpose(2, 3).contiguous(), rel);   // NHWC -> NCHW
            }
            return c.checks();
        }
    }

    private static Tensor stack(Backend be, List<Tensor> steps) {
        return be.concat(0, steps.stream().map(t -> t.unsqueeze(0)).toArray(Tensor[]::new));
    }
}
