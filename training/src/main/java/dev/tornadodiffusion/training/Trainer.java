package dev.tornadodiffusion.training;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tornadodiffusion.diffusion.image.Png;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.training.data.CaptionedImages;
import dev.tornadodiffusion.training.optim.AdamW;
import dev.tornadodiffusion.training.optim.Ema;
import dev.tornadodiffusion.training.optim.LrSchedule;
import dev.tornadodiffusion.weights.SafetensorsWriter;
import dev.tornadodiffusion.weights.StateDict;
import dev.tornadodiffusion.weights.ModelFiles;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The training loop: batches drawn from a {@link CaptionedImages} set, the {@link Task}'s loss and its gradient on a
 * {@link Tape}, gradient accumulation, clipping by global norm, AdamW under a warm-up + cosine learning rate, an EMA
 * of the weights. Every step's randomness comes from {@code (seed, step, micro-batch)}, and a checkpoint holds the
 * weights, the EMA and the optimizer moments, so a resumed run continues exactly where the interrupted one was.
 * <pre>
 * out/model/           the task's folder with the EMA weights (what the product loads), written at every checkpoint
 * out/checkpoint/      state.safetensors (weights, EMA, moments, F32) and trainer_state.json (step, settings)
 * out/loss.csv         step, loss (mean over the step's micro-batches), learning rate, gradient norm
 * out/samples/         step-N.png, the task's sample grid every sampleEvery steps
 * </pre>
 */
public final class Trainer {
    public record Settings(int steps, int batch, int accumulation, double lr, int warmup, double minLrRatio, double weightDecay,
                           double clipNorm, double emaDecay, int logEvery, int sampleEvery, int checkpointEvery, long seed, DType exportDType) {
        public Settings {
            if (steps <= 0 || batch <= 0 || accumulation <= 0) throw new IllegalArgumentException("steps, batch and accumulation must be positive");
            if (lr <= 0) throw new IllegalArgumentException("learning rate must be positive, got " + lr);
            if (emaDecay < 0 || emaDecay >= 1) throw new IllegalArgumentException("EMA decay must be in [0, 1), got " + emaDecay);
        }
    }

    /** The loss of each step of a run. */
    public record Result(List<Double> losses, long firstStep) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Task task;
    private final Tape tape;
    private final CaptionedImages data;
    private final Settings s;
    private final Path out;

    public Trainer(Task task, Tape tape, CaptionedImages data, Settings settings, Path out) {
        this.task = task;
        this.tape = tape;
        this.data = data;
        this.s = settings;
        this.out = out;
    }

    /** Trains from the checkpoint in {@code out} if there is one, else from the task's initial weights, to {@code steps}. */
    public Result run(PrintStream log) throws IOException {
        return run(log, s.steps());
    }

    /**
     * Like {@link #run(PrintStream)} but stops after step {@code stopAt} (with a checkpoint there), as an interrupted
     * run would; the schedule still spans all {@code steps}.
     */
    public Result run(PrintStream log, long stopAt) throws IOException {
        Files.createDirectories(out);
        Map<String, Tensor> params = trainable();
        AdamW opt = new AdamW(AdamW.Config.defaults(s.weightDecay()));
        Ema ema = new Ema(params, s.emaDecay());
        LrSchedule schedule = new LrSchedule(s.lr(), s.warmup(), s.steps(), s.minLrRatio());
        long start = restore(params, opt, ema);
        if (start > 0) log.printf("%s: resuming at step %d from %s%n", task.name(), start, out.resolve("checkpoint"));
        else log.printf("%s: %,d trainable parameters, %d steps of %d x %d examples%n", task.name(), count(params), s.steps(), s.batch(), s.accumulation());

        List<Double> losses = new ArrayList<>();
        long t0 = System.nanoTime(), examples = 0;
        for (long step = start; step < Math.min(stopAt, s.steps()); step++) {
            tape.zeroGrad();
            double loss = 0;
            for (int micro = 0; micro < s.accumulation(); micro++) {
                SplittableRandom r = new SplittableRandom(mix(s.seed(), step, micro));
                List<CaptionedImages.Example> batch = new ArrayList<>(s.batch());
                for (int i = 0; i < s.batch(); i++) batch.add(data.get(r.nextInt(data.size())));
                Tensor l = task.loss(tape, batch, r);
                loss += l.item() / s.accumulation();
                tape.backward(s.accumulation() == 1 ? l : tape.scale(l, 1f / s.accumulation()));
                examples += batch.size();
            }
            if (!Double.isFinite(loss)) throw new IllegalStateException(task.name() + ": loss is " + loss + " at step " + step + " (lower the learning rate)");
            Map<String, Tensor> grads = new LinkedHashMap<>();
            for (var e : params.entrySet()) grads.put(e.getKey(), tape.grad(e.getValue()));
            double norm = AdamW.clipGradNorm(grads, s.clipNorm());
            double lr = schedule.lr(step);
            opt.step(params, grads, lr);
            ema.update(params, step + 1);
            losses.add(loss);
            appendLoss(step + 1, loss, lr, norm);

            long done = step + 1;
            if (done % s.logEvery() == 0 || done == s.steps()) {
                double secs = (System.nanoTime() - t0) / 1e9, rate = examples / secs;
                double eta = (s.steps() - done) * (double) s.batch() * s.accumulation() / rate;
                log.printf("%s step %d/%d  loss %.4f  lr %.2e  |g| %.3f  %.1f samples/s  ETA %s%n", task.name(), done, s.steps(), loss, lr, norm, rate, duration(eta));
            }
            boolean checkpoint = done % s.checkpointEvery() == 0 || done == s.steps() || done == stopAt;
            boolean sample = s.sampleEvery() > 0 && (done % s.sampleEvery() == 0 || done == s.steps());
            if (checkpoint || sample) exportModel(params, ema);
            if (checkpoint) saveCheckpoint(params, opt, ema, done);
            if (sample) {
                Path png = out.resolve("samples").resolve(String.format("step-%06d.png", done));
                Files.createDirectories(png.getParent());
                Png.write(png, task.sampleGrid(out.resolve("model"), data), Map.of("parameters", task.name() + " step " + done));
                log.printf("%s: samples at %s%n", task.name(), png);
            }
        }
        return new Result(losses, start);
    }

    /** The trainable tensors under "component/key" (buffers the task freezes left out), in a fixed order. */
    private Map<String, Tensor> trainable() {
        Map<String, Tensor> all = new LinkedHashMap<>();
        for (var c : new java.util.TreeMap<>(task.components()).entrySet())
            for (var e : c.getValue().tensors().entrySet()) {
                String key = c.getKey() + "/" + e.getKey();
                if (e.getValue().dtype() == DType.F32 && !task.frozen().contains(key)) all.put(key, e.getValue());
            }
        return all;
    }

    private void exportModel(Map<String, Tensor> params, Ema ema) throws IOException {
        Map<String, Tensor> averaged = ema.weights(params);
        Map<String, Map<String, Tensor>> byComponent = new LinkedHashMap<>();
        for (var c : task.components().entrySet()) {
            Map<String, Tensor> w = new LinkedHashMap<>(c.getValue().tensors());   // buffers as they are
            for (String k : c.getValue().keys()) {
                Tensor a = averaged.get(c.getKey() + "/" + k);
                if (a != null) w.put(k, a);
            }
            byComponent.put(c.getKey(), w);
        }
        task.export(out.resolve("model"), byComponent, s.exportDType());
    }

    private void saveCheckpoint(Map<String, Tensor> params, AdamW opt, Ema ema, long step) throws IOException {
        Path dir = out.resolve("checkpoint");
        Files.createDirectories(dir);
        Map<String, Tensor> state = new LinkedHashMap<>();
        for (var e : params.entrySet()) state.put("param." + e.getKey(), e.getValue());
        for (var e : ema.weights(params).entrySet()) state.put("ema." + e.getKey(), e.getValue());
        for (var e : opt.state().entrySet()) state.put("adam." + e.getKey(), e.getValue());
        SafetensorsWriter.write(dir.resolve("state.safetensors"), state);
        ObjectNode meta = JSON.createObjectNode();
        meta.put("task", task.name());
        meta.put("step", step);
        meta.put("settings", s.toString());
        JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("trainer_state.json").toFile(), meta);
    }

    /** The step to continue from (0 without a checkpoint); restores weights, EMA and moments. */
    private long restore(Map<String, Tensor> params, AdamW opt, Ema ema) throws IOException {
        Path dir = out.resolve("checkpoint");
        if (!Files.isRegularFile(dir.resolve("trainer_state.json"))) {
            Files.deleteIfExists(out.resolve("loss.csv"));
            return 0;
        }
        JsonNode meta = JSON.readTree(dir.resolve("trainer_state.json").toFile());
        if (!task.name().equals(meta.path("task").asText()))
            throw new IllegalArgumentException(dir + " is a checkpoint of a '" + meta.path("task").asText() + "' run, not '" + task.name() + "'");
        long step = meta.path("step").asLong();
        try (StateDict st = ModelFiles.open(dir.resolve("state.safetensors"))) {
            Map<String, Tensor> emaState = new LinkedHashMap<>(), adam = new LinkedHashMap<>();
            for (var e : params.entrySet()) {
                Tensor saved = st.get("param." + e.getKey());
                if (!saved.sameShape(e.getValue())) throw new IllegalArgumentException(dir + ": '" + e.getKey() + "' has another shape than the model being trained");
                System.arraycopy(saved.toFloatArray(), 0, e.getValue().array(), 0, Math.toIntExact(saved.numel()));
                emaState.put(e.getKey(), st.get("ema." + e.getKey()).to(DType.F32));
            }
            for (String k : st.keys()) if (k.startsWith("adam.")) adam.put(k.substring(5), st.get(k).to(DType.F32));
            ema.restore(emaState);
            opt.restore(adam, step);
        }
        truncateLoss(step);
        return step;
    }

    private void appendLoss(long step, double loss, double lr, double norm) throws IOException {
        Path csv = out.resolve("loss.csv");
        String line = (Files.exists(csv) ? "" : "step,loss,lr,grad_norm\n") + String.format("%d,%.6f,%.6e,%.4f%n", step, loss, lr, norm);
        Files.writeString(csv, line, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    /** Keeps the loss lines of steps up to {@code step} (a resumed run rewrites the rest). */
    private void truncateLoss(long step) throws IOException {
        Path csv = out.resolve("loss.csv");
        if (!Files.exists(csv)) return;
        List<String> keep = new ArrayList<>();
        for (String line : Files.readAllLines(csv)) {
            if (keep.isEmpty() || Long.parseLong(line.substring(0, line.indexOf(','))) <= step) keep.add(line);
        }
        Files.write(csv, keep);
    }

    private static long count(Map<String, Tensor> params) {
        long n = 0;
        for (Tensor t : params.values()) n += t.numel();
        return n;
    }

    static long mix(long seed, long step, int micro) {
        long x = seed * 0x9E3779B97F4A7C15L + step * 0xBF58476D1CE4E5B9L + micro * 0x94D049BB133111EBL;
        return x ^ (x >>> 31);
    }

    static String duration(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format("%dh%02dm", s / 3600, s % 3600 / 60) : String.format("%dm%02ds", s / 60, s % 60);
    }
}
