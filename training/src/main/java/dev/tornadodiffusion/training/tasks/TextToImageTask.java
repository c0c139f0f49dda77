package dev.tornadodiffusion.training.tasks;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tornadodiffusion.diffusion.pipelines.Pipeline;
import dev.tornadodiffusion.diffusion.pipelines.LoadOptions;
import dev.tornadodiffusion.diffusion.schedulers.Scheduler;
import dev.tornadodiffusion.diffusion.schedulers.SchedulerConfig;
import dev.tornadodiffusion.weights.JsonConfig;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.nn.clip.ClipTextConfig;
import dev.tornadodiffusion.nn.clip.ClipTextModel;
import dev.tornadodiffusion.nn.clip.ClipTokenizer;
import dev.tornadodiffusion.nn.unet.UNet2DConditionConfig;
import dev.tornadodiffusion.nn.unet.UNet2DConditionModel;
import dev.tornadodiffusion.nn.vae.AutoencoderKL;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.training.Losses;
import dev.tornadodiffusion.training.Noise;
import dev.tornadodiffusion.training.Parameters;
import dev.tornadodiffusion.training.Tape;
import dev.tornadodiffusion.training.Task;
import dev.tornadodiffusion.training.data.CaptionedImages;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A CLIP text encoder and a UNet2DConditionModel trained together from scratch on the latents of a frozen VAE, with
 * diffusers' objective (train_text_to_image.py): {@code t ~ U{0..T-1}}, {@code x_t = sqrt(abar_t) x0 + sqrt(1-abar_t) eps}
 * (the scheduler's own beta schedule), the UNet predicts eps ({@code prediction_type} "epsilon") or
 * {@code v = sqrt(abar_t) eps - sqrt(1-abar_t) x0} ("v_prediction"), loss = MSE. A share of the captions is replaced
 * by "" so the model also learns the unconditional prediction classifier-free guidance needs.
 * Written as a StableDiffusionPipeline folder.
 */
public final class TextToImageTask extends LatentTask {
    private final ObjectNode textConfig, unetConfig, schedulerConfig;
    private final Parameters textParams, unetParams;
    private final ClipTextModel textEncoder;
    private final UNet2DConditionModel unet;
    private final float[] alphasCumprod;
    private final boolean vPrediction;
    private final double captionDropout;
    private final boolean trainTextEncoder;

    /** @param trainTextEncoder false keeps the text encoder as it is (training the UNet alone on its conditioning) */
    public TextToImageTask(ObjectNode textConfig, ObjectNode unetConfig, ObjectNode schedulerConfig, Path vaeFolder, Path tokenizerFolder,
                           Parameters textParams, Parameters unetParams, long seed, Tape tape, double captionDropout, boolean trainTextEncoder) throws IOException {
        super(vaeFolder, tokenizerFolder, textConfig.path("max_position_embeddings").asInt(77));
        this.textConfig = textConfig;
        this.unetConfig = unetConfig;
        this.schedulerConfig = schedulerConfig;
        this.textParams = textParams;
        this.unetParams = unetParams;
        this.captionDropout = captionDropout;
        this.trainTextEncoder = trainTextEncoder;
        this.textEncoder = new ClipTextModel(ClipTextConfig.from(new JsonConfig(textConfig, "text_encoder config")),
                new Params(textParams, tape, textParams.initializer(seed)), false);
        this.unet = new UNet2DConditionModel(UNet2DConditionConfig.fromJson(unetConfig, "unet config"),
                new Params(unetParams, tape, unetParams.initializer(seed + 1)));
        if (unet.config.in_channels() != vae.config.latent_channels())
            throw new IllegalArgumentException("unet in_channels " + unet.config.in_channels() + " differs from the VAE's latent_channels " + vae.config.latent_channels());
        SchedulerConfig sc = SchedulerConfig.of(schedulerConfig, "scheduler config");
        this.alphasCumprod = Scheduler.fromConfig(sc).alphasCumprod();
        String prediction = schedulerConfig.path("prediction_type").asText("epsilon");
        if (!prediction.equals("epsilon") && !prediction.equals("v_prediction"))
            throw new IllegalArgumentException("scheduler prediction_type must be epsilon or v_prediction, got " + prediction);
        this.vPrediction = prediction.equals("v_prediction");
        if (trainTextEncoder) tape.track(textParams);
        tape.track(unetParams);
    }

    @Override
    public java.util.Set<String> frozen() {
        if (trainTextEncoder) return java.util.Set.of();
        java.util.Set<String> keys = new java.util.HashSet<>();
        for (String k : textParams.keys()) keys.add("text_encoder/" + k);
        return keys;
    }

    @Override public String name() { return "sd"; }

    @Override public Map<String, Parameters> components() { return Map.of("text_encoder", textParams, "unet", unetParams); }

    @Override
    public Tensor loss(Tape tape, List<CaptionedImages.Example> batch, SplittableRandom random) {
        int b = batch.size();
        Tensor x0 = latents(batch, random);                                    // 1. latents of the frozen VAE
        Tensor eps = Noise.randn(random, x0.shape());
        float[] t = new float[b], sa = new float[b], sb = new float[b];
        for (int i = 0; i < b; i++) {                                           // 2. a timestep per example
            int ti = random.nextInt(alphasCumprod.length);
            t[i] = ti;
            sa[i] = (float) Math.sqrt(alphasCumprod[ti]);
            sb[i] = (float) Math.sqrt(1 - alphasCumprod[ti]);
        }
        Tensor a = Tensor.of(sa, b, 1, 1, 1), s = Tensor.of(sb, b, 1, 1, 1);
        Tensor xt = tape.add(tape.mul(x0, a), tape.mul(eps, s));                // 3. x_t (data: no gradient)
        Tensor target = vPrediction ? tape.sub(tape.mul(eps, a), tape.mul(x0, s)) : eps;
        Tensor ids = tokenIds(batch, random, captionDropout, "");               // 4. captions, some dropped to ""
        Tensor text = textEncoder.forward(ids).last_hidden_state();
        Tensor prediction = unet.forward(xt, Tensor.of(t, b), text);           // 5. predict eps (or v)
        return Losses.mse(tape, prediction, target);
    }

    @Override
    public void export(Path folder, Map<String, Map<String, Tensor>> weights, DType dtype) throws IOException {
        Files.createDirectories(folder);
        copyShared(folder);
        Configs.write(folder.resolve("model_index.json"), (ObjectNode) dev.tornadodiffusion.weights.Json.parse("""
                {"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.27.2",
                 "feature_extractor": [null, null], "image_encoder": [null, null], "requires_safety_checker": false,
                 "safety_checker": [null, null], "scheduler": ["diffusers", "EulerDiscreteScheduler"],
                 "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
                 "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}""", "model_index"));
        ObjectNode scheduler = schedulerConfig.deepCopy();
        scheduler.put("_class_name", "EulerDiscreteScheduler");
        Files.createDirectories(folder.resolve("scheduler"));
        Configs.write(folder.resolve("scheduler/scheduler_config.json"), scheduler);
        Files.createDirectories(folder.resolve("text_encoder"));
        Configs.write(folder.resolve("text_encoder/config.json"), textConfig);
        Configs.saveWeights(folder.resolve("text_encoder/model.safetensors"), weights.get("text_encoder"), dtype);
        Files.createDirectories(folder.resolve("unet"));
        Configs.write(folder.resolve("unet/config.json"), unetConfig);
        Configs.saveWeights(folder.resolve("unet/diffusion_pytorch_model.safetensors"), weights.get("unet"), dtype);
    }

    @Override
    Pipeline loadPipeline(Path folder) throws IOException {
        return Pipeline.load(folder, new dev.tornadodiffusion.tensor.cpu.CpuBackend(), new LoadOptions(null, null, List.of()));
    }
}
