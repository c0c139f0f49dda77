package dev.tornadodiffusion.parity;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.diffusion.TorchGenerator;
import dev.tornadodiffusion.diffusion.pipelines.GenerationRequest;
import dev.tornadodiffusion.diffusion.pipelines.GenerationResult;
import dev.tornadodiffusion.diffusion.pipelines.LoadOptions;
import dev.tornadodiffusion.diffusion.pipelines.Pipeline;
import dev.tornadodiffusion.diffusion.pipelines.Progress;
import dev.tornadodiffusion.diffusion.pipelines.StableDiffusionXLPipeline;
import dev.tornadodiffusion.diffusion.pipelines.UNetPipeline;
import dev.tornadodiffusion.diffusion.schedulers.Scheduler;
import dev.tornadodiffusion.diffusion.schedulers.SchedulerConfig;
import dev.tornadodiffusion.nn.vae.AutoencoderKL;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Compare.Check;
import dev.tornadodiffusion.tensor.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An inpainting pipeline case (pipeline-sd-inpaint / pipeline-sdxl-inpaint): every run of meta.json generated from
 * the saved embeddings, init image and mask (with the run's UNet folder and scheduler), and compared step by step
 * (UNet inputs and outputs, latents, decoded and final image: {@code |a-b| <= rel * (1 + |b|)}); the generator draws
 * regenerated in the listed order and the mask preparation exactly; the init / masked-image latents and the
 * starting latents recomputed from those draws with the case's VAE.
 */
public final class InpaintParity {
    private InpaintParity() {}

    private static final Pattern DRAW = Pattern.compile("(draw\\.\\d+): (\\w+) \\[([\\d, ]+)]");

    public static List<Check> run(Path caseDir, Backend be) throws Exception {
        try (ParityCase c = ParityCase.open(caseDir); AutoencoderKL vae = AutoencoderKL.load(caseDir.resolve("vae"), be, null)) {
            double rel = c.number("tolerance", "rel");
            long seed = c.integer("seeds", "generator");
            Tensor initImage = unit(c.input("init_image_u8")), mask = unit(c.input("mask_u8"));
            int height = initImage.dim(0), width = initImage.dim(1);
            for (Iterator<Map.Entry<String, JsonNode>> it = c.meta.path("runs").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String name = e.getKey(), p = name + "/";
                JsonNode run = e.getValue();
                SchedulerConfig sc = SchedulerConfig.read(caseDir.resolve(run.path("scheduler_folder").asText()).resolve("scheduler_config.json"));
                String unetFolder = run.path("unet").asText();
                LoadOptions options = unetFolder.equals("unet") ? LoadOptions.DEFAULT : new LoadOptions(null, caseDir.resolve(unetFolder), List.of());
                int steps = run.path("num_inference_steps").asInt();
                float strength = (float) run.path("strength").asDouble(), guidance = (float) run.path("guidance_scale").asDouble();
                boolean cfg = run.path("do_classifier_free_guidance").asBoolean();

                // the generator's draws, in the order the run made them
                TorchGenerator gen = new TorchGenerator(seed);
                List<Tensor> posteriors = new ArrayList<>();
                Tensor noise = null;
                for (JsonNode d : run.path("generator_draws_in_order")) {
                    Matcher m = DRAW.matcher(d.asText());
                    if (!m.matches()) throw new IllegalArgumentException(caseDir + "/meta.json: cannot read the draw '" + d.asText() + "'");
                    String[] dims = m.group(3).split(",\\s*");
                    int[] shape = new int[dims.length];
                    for (int i = 0; i < dims.length; i++) shape[i] = Integer.parseInt(dims[i]);
                    Tensor draw = gen.randn(shape);
                    c.exact(p + m.group(1), draw);
                    if (m.group(2).equals("vae_posterior")) posteriors.add(draw);
                    if (m.group(2).equals("pipeline")) noise = draw;
                }
                c.exact(p + "noise", noise);

                // the starting latents from the draws, with the case's VAE and the run's scheduler
                Tensor vaeInit = vaeInput(initImage);
                c.exact(p + "init_image", vaeInit);
                Tensor condition = maskCondition(mask);
                c.exact(p + "mask_condition", condition);
                Tensor masked = be.mul(vaeInit, be.sub(Tensor.scalar(1f), condition));
                c.exact(p + "masked_image", masked);
                Tensor maskedLatents = vae.scaleLatents(vae.encode(masked).sample(posteriors.getLast()));
                c.relative(p + "masked_image_latents_single", maskedLatents, rel);
                c.relative(p + "masked_image_latents", cfg ? be.concat(0, maskedLatents, maskedLatents) : maskedLatents, rel);
                Tensor imageLatents = null;
                if (c.outputNames().contains(p + "image_latents")) {
                    imageLatents = vae.scaleLatents(vae.encode(vaeInit).sample(posteriors.getFirst()));
                    c.relative(p + "image_latents", imageLatents, rel);
                }
                Scheduler s = Scheduler.fromConfig(sc);
                s.setTimesteps(steps);
                c.exact(p + "timesteps_all", s.timesteps());
                boolean xl = caseDir.getFileName().toString().contains("sdxl");
                Tensor used = xl ? s.img2imgTimestepsXL(steps, strength, Double.NaN) : s.img2imgTimesteps(steps, strength);
                c.exact(p + "timesteps_used", used);
                c.relative(p + "latents_init", strength == 1f ? be.scale(noise, s.initNoiseSigma()) : s.addNoise(imageLatents, noise, used.narrow(0, 0, 1)), rel);

                // the pipeline itself
                try (Pipeline loaded = Pipeline.load(caseDir, be, options)) {
                    UNetPipeline pipeline = ((UNetPipeline) loaded).withScheduler(sc);
                    GenerationRequest.Builder rb = GenerationRequest.builder(null).steps(steps).guidanceScale(guidance).seed(seed)
                            .height(height).width(width).initImage(initImage).mask(mask).strength(strength)
                            .promptEmbeds(c.input("prompt_embeds")).negativePromptEmbeds(c.input("negative_prompt_embeds"));
                    if (xl) rb.pooledPromptEmbeds(c.input("pooled_prompt_embeds")).negativePooledPromptEmbeds(c.input("negative_pooled_prompt_embeds"));
                    GenerationRequest request = rb.build();
                    List<Tensor> latents = new ArrayList<>(), inputs = new ArrayList<>(), outputs = new ArrayList<>();
                    GenerationResult r = pipeline.generate(request, new Progress() {
                        @Override public void step(int step, int total, double sec, Tensor l) { latents.add(l.unsqueeze(0)); }
                        @Override public boolean wantsModelOutput() { return true; }
                        @Override public void modelInput(int step, Tensor in) { inputs.add((cfg ? be.concat(0, in, in) : in).unsqueeze(0)); }
                        @Override public void modelOutput(int step, Tensor o) { outputs.add(o.unsqueeze(0)); }
                    });
                    Tensor latentMask = inputs.getFirst().dim(2) > 4 ? inputs.getFirst().select(0, 0).narrow(1, 4, 1) : null;
                    if (latentMask != null) c.exact(p + "mask", latentMask);
                    else c.exact(p + "mask", nearestToLatent(be, condition, cfg, latents.getFirst()));
                    c.relative(p + "unet_in_per_step", be.concat(0, inputs.toArray(Tensor[]::new)), rel);
                    c.relative(p + "unet_out_per_step", be.concat(0, outputs.toArray(Tensor[]::new)), rel);
                    c.relative(p + "latents_per_step", be.concat(0, latents.toArray(Tensor[]::new)), rel);
                    c.relative(p + "vae_decoded", pipeline.decodeRaw(r.latents()), rel);
                    c.relative(p + "image", r.images(), rel);
                    if (pipeline instanceof StableDiffusionXLPipeline x && c.outputNames().contains(p + "add_time_ids"))
                        c.exact(p + "add_time_ids", x.addTimeIds(request, height, width, 1, cfg, true));
                }
            }
            return c.checks();
        }
    }

    /** uint8 pixels as floats in [0, 1] (PIL image to numpy / 255). */
    private static Tensor unit(Tensor u8) {
        float[] v = u8.toFloatArray();
        for (int i = 0; i < v.length; i++) v[i] /= 255f;
        return Tensor.of(v, u8.shape());
    }

    /** image_processor.preprocess without resizing: [H, W, 3] in [0, 1] to [1, 3, H, W] in [-1, 1]. */
    private static Tensor vaeInput(Tensor image) {
        int h = image.dim(0), w = image.dim(1);
        float[] px = image.toFloatArray(), out = new float[px.length];
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) for (int ch = 0; ch < 3; ch++)
            out[(ch * h + y) * w + x] = 2f * px[(y * w + x) * 3 + ch] - 1f;
        return Tensor.of(out, 1, 3, h, w);
    }

    /** mask_processor.preprocess of an "L" mask: >= 0.5 -> 1, else 0, as [1, 1, H, W]. */
    private static Tensor maskCondition(Tensor mask) {
        float[] v = mask.toFloatArray(), out = new float[v.length];
        for (int i = 0; i < v.length; i++) out[i] = v[i] >= 0.5f ? 1f : 0f;
        return Tensor.of(out, 1, 1, mask.dim(0), mask.dim(1));
    }

    /** F.interpolate(mask, size) (nearest) at the latents' size, doubled with CFG: what the 4-channel blend uses. */
    private static Tensor nearestToLatent(Backend be, Tensor condition, boolean cfg, Tensor latents) {
        int h = latents.dim(3), w = latents.dim(4), sh = condition.dim(2), sw = condition.dim(3);
        float[] m = condition.toFloatArray(), out = new float[h * w];
        for (int i = 0; i < h; i++) for (int j = 0; j < w; j++) out[i * w + j] = m[(i * sh / h) * sw + j * sw / w];
        Tensor t = Tensor.of(out, 1, 1, h, w);
        return cfg ? be.concat(0, t, t) : t;
    }
}
