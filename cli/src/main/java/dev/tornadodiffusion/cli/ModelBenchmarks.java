package dev.tornadodiffusion.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tornadodiffusion.diffusion.pipelines.GenerationRequest;
import dev.tornadodiffusion.diffusion.pipelines.LoadOptions;
import dev.tornadodiffusion.diffusion.pipelines.Pipeline;
import dev.tornadodiffusion.cli.BenchCommand.Model;
import dev.tornadodiffusion.cli.BenchCommand.Workload;
import dev.tornadodiffusion.cli.bench.RandomWeights;
import dev.tornadodiffusion.cli.bench.StageTimes;
import dev.tornadodiffusion.weights.JsonConfig;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.nn.clip.ClipTextConfig;
import dev.tornadodiffusion.nn.clip.ClipTextModel;
import dev.tornadodiffusion.nn.clip.ClipTokenizer;
import dev.tornadodiffusion.nn.tld.Denoiser;
import dev.tornadodiffusion.nn.tld.DenoiserConfig;
import dev.tornadodiffusion.nn.unet.UNet2DConditionConfig;
import dev.tornadodiffusion.nn.unet.UNet2DConditionModel;
import dev.tornadodiffusion.nn.unet.UNetConditioning;
import dev.tornadodiffusion.nn.vae.AutoencoderKL;
import dev.tornadodiffusion.nn.vae.AutoencoderKLConfig;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.ModelFiles;
import dev.tornadodiffusion.weights.StateDict;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.TreeSet;

import static dev.tornadodiffusion.cli.BenchCommand.positive;
import static dev.tornadodiffusion.cli.bench.BenchData.random;

/**
 * The model-level workloads of {@code diffuse bench}: one forward of a UNet, a VAE decoder, a CLIP text encoder or a TLD
 * denoiser, and whole pipeline generations. A model comes from a folder (config.json + weights, mapped as stored) or,
 * with {@code --random NAME}, from the real config of a published model (resources bench/configs/) with random
 * weights made in memory, so no download is needed.
 */
final class ModelBenchmarks {
    private ModelBenchmarks() {}

    static final List<String> RANDOM_UNETS = List.of("sd15", "sd21", "sdxl"), RANDOM_VAES = List.of("sd", "sdxl"),
            RANDOM_CLIPS = List.of("clip-l", "clip-h", "clip-g"), RANDOM_TLDS = List.of("tld-100m");

    static Workload unet(Backend be, Args a, List<String> pos) throws IOException {
        Source src = source("unet", a, pos, RANDOM_UNETS);
        UNet2DConditionModel unet;
        StateDict weights;
        if (src.random() != null) {
            UNet2DConditionConfig config = UNet2DConditionConfig.fromJson(builtin("unet-" + src.random()), src.name());
            RandomWeights w = randomWeights(a);
            unet = new UNet2DConditionModel(config, new Params(w, be, w));
            weights = w;
        } else {
            UNet2DConditionConfig config = UNet2DConditionModel.readConfig(src.dir().resolve("config.json"));
            weights = ModelFiles.open(src.dir(), a.get("variant", null));
            unet = UNet2DConditionModel.load(config, weights, be);
        }
        UNet2DConditionConfig c = unet.config;
        int batch = positive(a, "batch", 2), latent = positive(a, "latent", 32);
        Tensor sample = random(1, batch, c.in_channels(), latent, latent), t = Tensor.scalar(500);
        Tensor context = random(2, batch, positive(a, "tokens", 77), c.cross_attention_dim()[0]);   // sdxs conditions on 1 token
        Tensor textEmbeds = null, timeIds = null;
        if (c.addition_embed_type() != null) {
            textEmbeds = random(3, batch, c.projection_class_embeddings_input_dim() - 6 * c.addition_time_embed_dim());
            float[] ids = new float[batch * 6];
            for (int i = 0; i < batch; i++) System.arraycopy(new float[]{8f * latent, 8f * latent, 0, 0, 8f * latent, 8f * latent}, 0, ids, 6 * i, 6);
            timeIds = Tensor.of(ids, batch, 6);
        }
        Tensor te = textEmbeds, ti = timeIds;
        String shape = String.format(Locale.ROOT, "%s, sample %s, text %s", src.name(), Arrays.toString(sample.shape()), Arrays.toString(context.shape()));
        // one device call, as the pipelines make it: a recording backend (TornadoVM) replays one plan per step
        UNetConditioning cond = new UNetConditioning(context, te, ti, null);
        return new Workload(shape, 0, () -> unet.predict(sample, t, cond),
                new Model(about(weights, src), "s/it", List.of()));
    }

    static Workload vae(Backend be, Args a, List<String> pos) throws IOException {
        Source src = source("vae", a, pos, RANDOM_VAES);
        AutoencoderKL vae;
        StateDict weights;
        if (src.random() != null) {
            AutoencoderKLConfig config = AutoencoderKLConfig.from(new JsonConfig(builtin("vae-" + src.random()), src.name()));
            RandomWeights w = randomWeights(a);
            vae = new AutoencoderKL(config, new Params(w, be, w));
            weights = w;
        } else {
            AutoencoderKLConfig config = AutoencoderKLConfig.from(JsonConfig.read(src.dir().resolve("config.json")));
            weights = ModelFiles.open(src.dir(), a.get("variant", null));
            vae = AutoencoderKL.load(config, weights, be);
        }
        int size = positive(a, "size", 256), batch = positive(a, "batch", 1), down = vae.config.downscale();
        if (size % down != 0) throw new UsageException("--size must be a multiple of " + down + ", got " + size);
        Tensor z = random(1, batch, vae.config.latent_channels(), size / down, size / down);
        String shape = String.format(Locale.ROOT, "%s decode, latent %s -> %dx%d", src.name(), Arrays.toString(z.shape()), size, size);
        return new Workload(shape, 0, () -> vae.decodeLatents(z), new Model(about(weights, src), "s/it", List.of()));
    }

    static Workload clip(Backend be, Args a, List<String> pos) throws IOException {
        Source src = source("clip", a, pos, RANDOM_CLIPS);
        JsonConfig json = src.random() != null ? new JsonConfig(builtin(src.random()), src.name()) : JsonConfig.read(src.dir().resolve("config.json"));
        ClipTextConfig config = ClipTextConfig.from(json);
        boolean withProjection = Arrays.asList(json.getStringArray("architectures", new String[0])).contains("CLIPTextModelWithProjection");
        ClipTextModel clip;
        StateDict weights;
        if (src.random() != null) {
            RandomWeights w = randomWeights(a);
            clip = new ClipTextModel(config, new Params(w, be, w), withProjection);
            weights = w;
        } else {
            weights = ModelFiles.open(src.dir(), a.get("variant", null));
            clip = ClipTextModel.load(config, weights, be, withProjection);
        }
        int batch = positive(a, "batch", 1), n = config.max_position_embeddings();
        Random r = new Random(1);
        long[] ids = new long[batch * n];
        for (int i = 0; i < ids.length; i++) ids[i] = r.nextInt(config.vocab_size());
        Tensor input = Tensor.ofLongs(ids, batch, n);
        String shape = String.format(Locale.ROOT, "%s, input_ids [%d, %d]", src.name(), batch, n);
        return new Workload(shape, 0, () -> clip.promptStates(input, 0), new Model(about(weights, src), "s/it", List.of()));
    }

    static Workload tld(Backend be, Args a, List<String> pos) throws IOException {
        Source src = source("tld", a, pos, RANDOM_TLDS);
        Denoiser tld;
        StateDict weights;
        if (src.random() != null) {
            DenoiserConfig config = DenoiserConfig.from(new JsonConfig(builtin(src.random()), src.name()));
            int seqLen = config.grid() * config.grid();
            long[] positions = new long[seqLen];
            for (int i = 0; i < seqLen; i++) positions[i] = i;
            // a buffer of TLD's state_dict (position ids), stored rather than random
            RandomWeights w = randomWeights(a).put("denoiser_trans_block.precomputed_pos_enc", Tensor.ofLongs(positions, seqLen));
            tld = new Denoiser(config, new Params(w, be, w));
            weights = w;
        } else {
            DenoiserConfig config = DenoiserConfig.from(JsonConfig.read(src.dir().resolve("config.json")));
            weights = ModelFiles.open(src.dir());
            tld = Denoiser.load(config, weights, be);
        }
        DenoiserConfig c = tld.config;
        int batch = positive(a, "batch", 2), s = c.image_size();
        Tensor x = random(1, batch, c.n_channels(), s, s), label = random(2, batch, c.text_emb_size());
        Tensor noise = Tensor.of(new float[batch], batch, 1);
        Arrays.fill(noise.array(), 0.5f);
        String shape = String.format(Locale.ROOT, "%s, x %s, label %s", src.name(), Arrays.toString(x.shape()), Arrays.toString(label.shape()));
        return new Workload(shape, 0, () -> tld.predict(x, noise, label), new Model(about(weights, src), "s/it", List.of()));
    }

    static Workload pipeline(Backend be, Args a, List<String> pos) throws IOException {
        if (pos.size() != 1) throw new UsageException("bench pipeline takes one pipeline folder (with model_index.json)");
        if (a.has("random")) throw new UsageException("bench pipeline runs a pipeline folder; --random is for unet, vae, clip and tld");
        Path dir = Path.of(pos.getFirst());
        if (!Files.isDirectory(dir)) throw new UsageException(dir + " is not a folder");
        Pipeline p = Pipeline.load(dir, be, new LoadOptions(a.get("variant", null), null, List.of()));
        String prompt = a.get("prompt", "a photograph of an astronaut riding a horse");
        int batch = positive(a, "batch", 1), steps = positive(a, "steps", 20);
        int width = positive(a, "width", p.defaultWidth()), height = positive(a, "height", p.defaultHeight());
        GenerationRequest request;
        try {
            request = GenerationRequest.builder(prompt).steps(steps).width(width).height(height).batch(batch)
                    .guidanceScale(a.has("guidance") ? a.getFloat("guidance", 0) : null).sampler(a.get("sampler", null)).build();
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        StageTimes times = new StageTimes(batch);
        String shape = String.format(Locale.ROOT, "%s, %dx%d, batch %d, %d steps", p.description(), width, height, batch, steps);
        String about = "pipeline " + dir + (Files.isDirectory(dir.resolve("tokenizer")) ? "; " + tokenizerTime(dir.resolve("tokenizer"), prompt) : "");
        return new Workload(shape, 0, () -> {
            p.generate(request, times);
            times.finish();
        }, new Model(about, "s per generation", List.of(times)));
    }

    /** Median time of the tokenizer on the prompt (the pipeline's text encoder stage includes it). */
    private static String tokenizerTime(Path dir, String prompt) throws IOException {
        ClipTokenizer tok = ClipTokenizer.load(dir);
        for (int i = 0; i < 200; i++) tok.tokenize(prompt);
        double[] us = new double[200];
        for (int i = 0; i < us.length; i++) {
            long t0 = System.nanoTime();
            tok.tokenize(prompt);
            us[i] = (System.nanoTime() - t0) / 1e3;
        }
        Arrays.sort(us);
        return String.format(Locale.ROOT, "tokenizer %.1f us per prompt (median of %d, part of the text encoder stage)", us[us.length / 2], us.length);
    }

    /** A model folder (positional) or a built-in config with random weights (--random NAME). */
    private record Source(Path dir, String random, DType dtype) {
        String name() { return random != null ? random + " (random " + dtype + " weights)" : dir.toString(); }
    }

    private static Source source(String kind, Args a, List<String> pos, List<String> randoms) {
        String random = a.get("random", null);
        if (random != null) {
            if (!pos.isEmpty()) throw new UsageException("give a model folder or --random NAME, not both");
            if (!randoms.contains(random)) throw new UsageException("--random for " + kind + " takes one of " + String.join(", ", randoms) + ", got '" + random + "'");
            return new Source(null, random, dtype(a));
        }
        if (a.has("dtype")) throw new UsageException("--dtype applies to --random weights; a folder's weights run as stored (pick files with --variant)");
        if (pos.size() != 1) throw new UsageException("bench " + kind + " takes one model folder or --random " + String.join("|", randoms));
        Path dir = Path.of(pos.getFirst());
        if (!Files.isDirectory(dir)) throw new UsageException(dir + " is not a folder");
        return new Source(dir, null, null);
    }

    private static DType dtype(Args a) {
        return switch (a.get("dtype", "f32").toLowerCase(Locale.ROOT)) {
            case "f32" -> DType.F32;
            case "f16" -> DType.F16;
            case "bf16" -> DType.BF16;
            default -> throw new UsageException("--dtype takes f32, f16 or bf16, got '" + a.get("dtype", "") + "'");
        };
    }

    private static RandomWeights randomWeights(Args a) {
        return new RandomWeights(dtype(a), 0);
    }

    /** A built-in config.json (resources dev/tornadodiffusion/cli/bench/configs/NAME.json). */
    static JsonNode builtin(String name) {
        try (InputStream in = ModelBenchmarks.class.getResourceAsStream("bench/configs/" + name + ".json")) {
            if (in == null) throw new IllegalStateException("built-in config " + name + " is missing from the build");
            return new ObjectMapper().readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Parameters and weight bytes of the model's tensors, and where they live. */
    private static String about(StateDict weights, Source src) {
        long params = 0, bytes = 0;
        TreeSet<String> dtypes = new TreeSet<>();
        for (String k : weights.keys()) {
            Tensor t = weights.get(k);
            if (!t.dtype().floating) continue;
            params += t.numel();
            bytes += t.byteSize();
            dtypes.add(t.dtype().name());
        }
        String where = src.random() != null ? "on the Java heap" : "memory-mapped from the weight files (outside the heap)";
        return String.format(Locale.ROOT, "parameters %,d; weights %,d bytes (%.2f GiB) %s, %s", params, bytes, bytes / (double) (1L << 30),
                String.join("+", dtypes), where);
    }
}
