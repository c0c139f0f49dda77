package dev.tornadodiffusion.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.training.Parameters;
import dev.tornadodiffusion.training.Tape;
import dev.tornadodiffusion.training.Task;
import dev.tornadodiffusion.training.Trainer;
import dev.tornadodiffusion.training.data.CaptionedImages;
import dev.tornadodiffusion.training.data.ImageFolder;
import dev.tornadodiffusion.training.data.Shapes;
import dev.tornadodiffusion.training.data.ShapesDataset;
import dev.tornadodiffusion.training.eval.PromptFollowing;
import dev.tornadodiffusion.diffusion.pipelines.LoadOptions;
import dev.tornadodiffusion.diffusion.pipelines.Pipeline;
import dev.tornadodiffusion.tensor.cpu.CpuBackend;
import dev.tornadodiffusion.training.tasks.TextToImageTask;
import dev.tornadodiffusion.training.tasks.TinyModels;
import dev.tornadodiffusion.training.tasks.TldTask;
import dev.tornadodiffusion.training.tasks.VaeTask;
import dev.tornadodiffusion.weights.Json;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/**
 * {@code diffuse train vae|sd|tld}: trains one model of the bundled chain (a VAE, then CLIP + UNet on its latents, then a
 * TLD denoiser on the same latents and text encoder) on the shapes set or a folder of captioned images.
 */
final class TrainCommand implements Command {
    @Override public String name() { return "train"; }

    @Override
    public String usage() {
        return "vae|sd|tld --out DIR [--data shapes|FOLDER] [--resolution 64] [--steps N] [--stop-at N] [--batch N] [--accumulate N] [--lr X] [--warmup N]"
                + " [--weight-decay X] [--clip X] [--ema X] [--seed N] [--log-every N] [--sample-every N] [--checkpoint-every N]"
                + " [--vae DIR] [--text-encoder DIR] [--tokenizer DIR] [--config FILE.json] [--prediction epsilon|v_prediction] [--kl X] [--crop N] [--init MODEL_DIR] [--latent-cache N] [--freeze-text-encoder] [--decoder-only] [--f32]";
    }

    @Override
    public int run(String[] argv) throws Exception {
        Args a = new Args(argv, Set.of("out", "data", "resolution", "steps", "batch", "accumulate", "lr", "warmup", "weight-decay", "clip", "ema",
                "stop-at", "seed", "log-every", "sample-every", "checkpoint-every", "vae", "text-encoder", "tokenizer", "config", "prediction", "kl", "size", "crop", "init", "latent-cache"), Set.of("f32", "freeze-text-encoder", "decoder-only"));
        if (a.positional().size() != 1) throw new UsageException("name one model to train: vae, sd or tld");
        String kind = a.positional().getFirst();
        if (!Set.of("vae", "sd", "tld").contains(kind)) throw new UsageException("unknown model '" + kind + "' (vae, sd or tld)");
        if (!a.has("out")) throw new UsageException("--out DIR is required");
        Path out = Path.of(a.get("out", null));
        long seed = a.getLong("seed", 0);
        int resolution = a.getInt("resolution", 64);
        String dataArg = a.get("data", "shapes");
        CaptionedImages data = dataArg.equals("shapes") ? new ShapesDataset(seed, a.getInt("size", 1 << 20), resolution, false)
                : ImageFolder.open(Path.of(dataArg), resolution);
        int steps = a.getInt("steps", 2000);
        // a run stopped early on purpose: the learning-rate schedule still spans --steps, and the same command with a
        // later --stop-at (or none) continues it exactly
        int stopAt = a.getInt("stop-at", steps);
        if (stopAt <= 0 || stopAt > steps) throw new UsageException("--stop-at must be in 1.." + steps + ", got " + stopAt);
        Trainer.Settings settings = new Trainer.Settings(steps, a.getInt("batch", 16), a.getInt("accumulate", 1), a.getFloat("lr", 1e-3f),
                a.getInt("warmup", Math.min(100, steps / 10 + 1)), 0.1, a.getFloat("weight-decay", 0.01f), a.getFloat("clip", 1f),
                a.getFloat("ema", 0.999f), a.getInt("log-every", 10), a.getInt("sample-every", 500), a.getInt("checkpoint-every", 100), seed,
                a.has("f32") ? DType.F32 : DType.F16);

        Tape tape = Tape.cpu();
        Path model = Path.of(System.getProperty("td.home", "."), "models", "tiny-sd");
        Path vae = Path.of(a.get("vae", model.resolve("vae").toString()));
        Path tokenizer = Path.of(a.get("tokenizer", model.resolve("tokenizer").toString()));
        for (String needed : kind.equals("vae") ? new String[0] : new String[]{"vae", "tokenizer"}) {
            Path p = needed.equals("vae") ? vae : tokenizer;
            if (!Files.isDirectory(p)) throw new UsageException("--" + needed + " " + p + " is not a folder");
        }
        // --init: continue from the model folder of an earlier run (its configs and weights), else start from scratch
        Path init = a.has("init") ? Path.of(a.get("init", null)) : null;
        if (init != null && !Files.isDirectory(init)) throw new UsageException("--init " + init + " is not a folder");
        Task task = switch (kind) {
            case "vae" -> new VaeTask(init != null ? object(init.resolve("config.json")) : config(a, TinyModels.vae()), weights(init, "", "vae"),
                    seed, tape, a.getFloat("kl", 1e-4f), data, a.getInt("crop", 0), a.has("decoder-only"));
            case "sd" -> {
                ObjectNode scheduler = init != null ? object(init.resolve("scheduler/scheduler_config.json")) : TinyModels.scheduler();
                if (a.has("prediction") || init == null) scheduler.put("prediction_type", a.get("prediction", "epsilon"));
                yield new TextToImageTask(init != null ? object(init.resolve("text_encoder/config.json")) : TinyModels.textEncoder(),
                        init != null ? object(init.resolve("unet/config.json")) : config(a, TinyModels.unet()), scheduler, vae, tokenizer,
                        weights(init, "text_encoder", "text_encoder"), weights(init, "unet", "unet"), seed, tape, 0.1, !a.has("freeze-text-encoder"));
            }
            default -> {
                Path te = Path.of(a.get("text-encoder", model.resolve("text_encoder").toString()));
                if (!Files.isDirectory(te)) throw new UsageException("--text-encoder " + te + " is not a folder");
                yield new TldTask(init != null ? object(init.resolve("denoiser/config.json")) : config(a, TinyModels.denoiser()), te, vae, tokenizer,
                        weights(init, "denoiser", "denoiser"), seed, tape);
            }
        };
        long t0 = System.nanoTime();
        CaptionedImages trainOn = data;
        if (a.has("latent-cache")) {
            if (!(task instanceof TextToImageTask || task instanceof TldTask)) throw new UsageException("--latent-cache is for sd and tld");
            var frozenVae = task instanceof TextToImageTask t ? t.vae() : ((TldTask) task).vae();
            trainOn = new dev.tornadodiffusion.training.data.LatentCache(data, frozenVae, Math.min(data.size(), a.getInt("latent-cache", 0)), System.out);
        }
        Trainer.Result r = new Trainer(task, tape, trainOn, settings, out).run(System.out, stopAt);
        System.out.printf("train %s: %d steps in %.1f min, final loss %.4f; model at %s%n", kind, r.losses().size(), (System.nanoTime() - t0) / 60e9,
                r.losses().isEmpty() ? Double.NaN : r.losses().getLast(), out.resolve("model"));
        if (data instanceof ShapesDataset && !kind.equals("vae")) {
            // the prompt-following check of the test suite, on the same held-out prompts
            var scenes = Shapes.heldOutScenes(40, 2026);
            try (Pipeline p = Pipeline.load(out.resolve("model"), new CpuBackend(), new LoadOptions(null, null, java.util.List.of()))) {
                PromptFollowing.Result acc = PromptFollowing.measure(p, scenes, null, 0);
                System.out.printf("train %s: follows %d/%d held-out prompts (%.1f%%; background right in %.1f%%, shapes' colour and cell in %.1f%%)%n",
                        kind, acc.passed(), scenes.size(), 100 * acc.accuracy(), 100 * acc.backgroundAccuracy(), 100 * acc.itemAccuracy());
            }
        }
        return 0;
    }

    /** Trainable copies of the weights in {@code init/component}, or empty parameters (initialised from the seed) without --init. */
    private static Parameters weights(Path init, String component, String name) throws java.io.IOException {
        if (init == null) return new Parameters(name);
        try (var w = dev.tornadodiffusion.weights.ModelFiles.open(component.isEmpty() ? init : init.resolve(component))) {
            return Parameters.copyOf(w);
        }
    }

    private static ObjectNode object(Path file) throws java.io.IOException {
        if (!(Json.read(file) instanceof ObjectNode o)) throw new UsageException(file + " is not a JSON object");
        return o;
    }

    /** The model's config: --config FILE (a diffusers / TLD config.json) or the bundled model's. */
    private static ObjectNode config(Args a, ObjectNode fallback) throws java.io.IOException {
        if (!a.has("config")) return fallback;
        Path p = Path.of(a.get("config", null));
        if (!Files.isRegularFile(p)) throw new UsageException("--config " + p + " is not a file");
        if (!(Json.read(p) instanceof ObjectNode o)) throw new UsageException("--config " + p + " is not a JSON object");
        return o;
    }
}
