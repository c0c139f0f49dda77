package dev.tornadodiffusion.training.tasks;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tornadodiffusion.diffusion.pipelines.LoadOptions;
import dev.tornadodiffusion.diffusion.pipelines.Pipeline;
import dev.tornadodiffusion.weights.JsonConfig;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.nn.clip.ClipTextConfig;
import dev.tornadodiffusion.nn.clip.ClipTextModel;
import dev.tornadodiffusion.nn.tld.Denoiser;
import dev.tornadodiffusion.nn.tld.DenoiserConfig;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.tensor.cpu.CpuBackend;
import dev.tornadodiffusion.training.Losses;
import dev.tornadodiffusion.training.Noise;
import dev.tornadodiffusion.training.Parameters;
import dev.tornadodiffusion.training.Tape;
import dev.tornadodiffusion.training.data.CaptionedImages;
import dev.tornadodiffusion.weights.Json;
import dev.tornadodiffusion.weights.ModelFiles;
import dev.tornadodiffusion.weights.StateDict;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * TLD's transformer denoiser trained with TLD's own objective (train.py): noise level {@code s ~ Beta(1, 2.5)},
 * {@code x_noisy = (1 - s) x + s eps}, the model predicts x from (x_noisy, s, label), loss = MSE; the label is the
 * frozen CLIP text encoder's pooled projection, replaced by zeros for 15% of the examples (TLD's guidance is against a
 * zero label). x is the VAE latent times scaling_factor, so the folder's {@code vae_scale_factor} is 1/scaling_factor.
 * The text encoder is written as a CLIPTextModelWithProjection whose projection is the identity, i.e. the label is
 * the pooled state of the same encoder the UNet pipeline uses.
 */
public final class TldTask extends LatentTask {
    static final double LABEL_DROPOUT = 0.15, BETA_B = 2.5;

    private final ObjectNode denoiserConfig;
    private final Parameters params;
    private final Denoiser denoiser;
    private final ClipTextModel textEncoder;
    private final Path textEncoderFolder;
    private final ObjectNode textConfig;
    private final int hidden;

    public TldTask(ObjectNode denoiserConfig, Path textEncoderFolder, Path vaeFolder, Path tokenizerFolder, Parameters params, long seed, Tape tape) throws IOException {
        super(vaeFolder, tokenizerFolder, ((ObjectNode) Json.read(textEncoderFolder.resolve("config.json"))).path("max_position_embeddings").asInt(77));
        this.denoiserConfig = denoiserConfig;
        this.params = params;
        this.textEncoderFolder = textEncoderFolder;
        this.textConfig = (ObjectNode) Json.read(textEncoderFolder.resolve("config.json"));
        this.hidden = textConfig.path("hidden_size").asInt();
        DenoiserConfig dc = DenoiserConfig.from(new JsonConfig(denoiserConfig, "denoiser config"));
        if (dc.text_emb_size() != hidden)
            throw new IllegalArgumentException("denoiser text_emb_size " + dc.text_emb_size() + " differs from the text encoder's hidden_size " + hidden);
        if (dc.n_channels() != vae.config.latent_channels())
            throw new IllegalArgumentException("denoiser n_channels " + dc.n_channels() + " differs from the VAE's latent_channels " + vae.config.latent_channels());
        int half = dc.noise_embed_dims() / 2, seqLen = dc.grid() * dc.grid();
        if (!params.keys().contains("fourier_feats.0.angular_speeds")) {
            float[] w = new float[half];   // TLD's SinusoidalEmbedding buffer: 2 pi exp(linspace(log 1, log 1000, n))
            for (int i = 0; i < half; i++) w[i] = (float) (2 * Math.PI * Math.exp(Math.log(1000) * i / Math.max(1, half - 1)));
            params.put("fourier_feats.0.angular_speeds", Tensor.of(w, half));
            long[] pos = new long[seqLen];
            for (int i = 0; i < seqLen; i++) pos[i] = i;
            params.put("denoiser_trans_block.precomputed_pos_enc", Tensor.ofLongs(pos, seqLen));
        }
        this.denoiser = new Denoiser(dc, new Params(params, tape, params.initializer(seed)));
        StateDict te = ModelFiles.open(textEncoderFolder);
        this.textEncoder = ClipTextModel.load(ClipTextConfig.from(new JsonConfig(textConfig, "text_encoder config")), te, new CpuBackend(), false);
        tape.track(params);
        tape.untrack(params.get("fourier_feats.0.angular_speeds"));
    }

    @Override public String name() { return "tld"; }

    @Override public Map<String, Parameters> components() { return Map.of("denoiser", params); }

    @Override public Set<String> frozen() { return Set.of("denoiser/fourier_feats.0.angular_speeds"); }

    @Override
    public Tensor loss(Tape tape, List<CaptionedImages.Example> batch, SplittableRandom random) {
        int b = batch.size();
        Tensor x = latents(batch, random);                                      // 1. latents of the frozen VAE
        Tensor eps = Noise.randn(random, x.shape());
        float[] s = new float[b];
        for (int i = 0; i < b; i++) s[i] = (float) Noise.beta1(random, BETA_B);  // 2. noise levels ~ Beta(1, 2.5)
        Tensor level = Tensor.of(s, b, 1), sv = Tensor.of(s.clone(), b, 1, 1, 1);
        Tensor noisy = tape.add(tape.sub(x, tape.mul(x, sv)), tape.mul(eps, sv));   // 3. (1 - s) x + s eps
        float[] keep = new float[b];
        for (int i = 0; i < b; i++) keep[i] = random.nextDouble() < LABEL_DROPOUT ? 0 : 1;
        Tensor label = tape.mul(textEncoder.forward(tokenIds(batch, random, 0, "")).pooler_output(), Tensor.of(keep, b, 1));   // 4. labels, 15% zeros
        return Losses.mse(tape, denoiser.forward(noisy, level, label), x);     // 5. predict x
    }

    @Override
    public void export(Path folder, Map<String, Map<String, Tensor>> weights, DType dtype) throws IOException {
        Files.createDirectories(folder);
        copyShared(folder);
        ObjectNode index = (ObjectNode) Json.parse("""
                {"_class_name": "TLDPipeline", "denoiser": ["tld", "Denoiser"],
                 "text_encoder": ["transformers", "CLIPTextModelWithProjection"], "tokenizer": ["transformers", "CLIPTokenizer"],
                 "vae": ["diffusers", "AutoencoderKL"],
                 "sampler": {"n_iter": 20, "class_guidance": 4, "use_ddpm_plus": true, "exponent": 1, "sharp_f": 0, "bright_f": 0}}""", "model_index");
        index.put("vae_scale_factor", 1 / vae.config.scaling_factor());
        Configs.write(folder.resolve("model_index.json"), index);
        Path d = folder.resolve("denoiser");
        Files.createDirectories(d);
        Configs.write(d.resolve("config.json"), denoiserConfig);
        Configs.saveWeights(d.resolve("model.safetensors"), weights.get("denoiser"), dtype);
        exportTextEncoder(folder.resolve("text_encoder"), dtype);
    }

    /** The frozen text encoder with an identity text_projection, as a CLIPTextModelWithProjection folder. */
    private void exportTextEncoder(Path out, DType dtype) throws IOException {
        Files.createDirectories(out);
        ObjectNode c = textConfig.deepCopy();
        ((ArrayNode) c.putArray("architectures")).add("CLIPTextModelWithProjection");
        c.put("projection_dim", hidden);
        Configs.write(out.resolve("config.json"), c);
        Map<String, Tensor> w = new java.util.LinkedHashMap<>();
        try (StateDict te = ModelFiles.open(textEncoderFolder)) {
            for (String k : te.keys()) w.put(k, te.get(k).to(DType.F32));
        }
        float[] eye = new float[hidden * hidden];
        for (int i = 0; i < hidden; i++) eye[i * hidden + i] = 1;
        w.put("text_projection.weight", Tensor.of(eye, hidden, hidden));
        Configs.saveWeights(out.resolve("model.safetensors"), w, dtype);
    }

    @Override
    Pipeline loadPipeline(Path folder) throws IOException {
        return Pipeline.load(folder, new CpuBackend(), new LoadOptions(null, null, List.of()));
    }
}
