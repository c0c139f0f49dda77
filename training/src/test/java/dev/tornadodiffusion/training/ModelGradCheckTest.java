package dev.tornadodiffusion.training;

import dev.tornadodiffusion.weights.JsonConfig;
import dev.tornadodiffusion.nn.clip.ClipTextConfig;
import dev.tornadodiffusion.nn.clip.ClipTextModel;
import dev.tornadodiffusion.nn.tld.Denoiser;
import dev.tornadodiffusion.nn.tld.DenoiserConfig;
import dev.tornadodiffusion.nn.unet.UNet2DConditionModel;
import dev.tornadodiffusion.nn.vae.AutoencoderKL;
import dev.tornadodiffusion.nn.vae.AutoencoderKLConfig;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.ModelFiles;
import dev.tornadodiffusion.weights.StateDict;
import dev.tornadodiffusion.weights.WeightFormatException;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.function.Function;

import static dev.tornadodiffusion.training.GradCheck.EPS;
import static dev.tornadodiffusion.training.GradCheck.random;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Whole models' gradients, from the tape in float, against float64 central differences of the same model code run on
 * {@link Float64Backend}, at sampled elements of every parameter tensor and of the differentiable inputs.
 */
class ModelGradCheckTest {
    static final Path TINY = Path.of("../models/tiny-sd");
    /** Per sampled element: |analytic - numeric| / max(|numeric|, 1% of the largest sampled |numeric|). */
    static final double TOL = 1e-3;

    /** Builds a model over weights and a backend, and returns its forward pass over the inputs. */
    interface Builder { Function<Tensor[], Tensor> build(StateDict weights, Backend be); }

    static Parameters weights(Path folder) throws IOException {
        try (StateDict w = ModelFiles.open(folder, null)) {
            return Parameters.copyOf(w);
        }
    }

    /** Float64 copies (exact) of the floating tensors of {@code p}, integer buffers as they are, with their arrays for perturbing. */
    record Weights64(StateDict dict, Map<String, double[]> arrays) {}

    static Weights64 float64(Parameters p) {
        Map<String, Tensor> t = new TreeMap<>();
        Map<String, double[]> arrays = new TreeMap<>();
        for (var e : p.tensors().entrySet()) {
            if (!e.getValue().dtype().floating) { t.put(e.getKey(), e.getValue()); continue; }
            double[] a = e.getValue().toDoubleArray();
            arrays.put(e.getKey(), a);
            t.put(e.getKey(), Float64Backend.f64(a, e.getValue().shape()));
        }
        StateDict dict = new StateDict() {
            @Override public String source() { return p.source() + " (float64)"; }
            @Override public Set<String> keys() { return t.keySet(); }
            @Override public Tensor get(String key) {
                Tensor x = t.get(key);
                if (x == null) throw new WeightFormatException("missing " + key);
                return x;
            }
        };
        return new Weights64(dict, arrays);
    }

    /** Checks {@code samples} elements of every parameter tensor and of every input; returns the worst error as defined at {@link #TOL}. */
    static double check(String name, Parameters params, Builder builder, int samples, Tensor... inputs) {
        long start = System.nanoTime();
        Tape tape = Tape.cpu();
        tape.track(params);
        Tensor[] in = new Tensor[inputs.length];
        for (int i = 0; i < inputs.length; i++) in[i] = inputs[i].dtype().floating ? tape.track(inputs[i].contiguousF32().contiguous()) : inputs[i];
        Tensor y = builder.build(params, tape).apply(in);
        Tensor r = random(new SplittableRandom(17), y.shape());
        tape.backward(tape.sum(tape.mul(y, r)));
        double[] rw = r.toDoubleArray();

        Weights64 w64 = float64(params);
        Float64Backend ref = new Float64Backend();
        Function<Tensor[], Tensor> model64 = builder.build(w64.dict(), ref);
        double[][] x64 = new double[inputs.length][];
        Tensor[] in64 = new Tensor[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            if (!inputs[i].dtype().floating) { in64[i] = inputs[i]; continue; }
            x64[i] = inputs[i].toDoubleArray();
            in64[i] = Float64Backend.f64(x64[i], inputs[i].shape());
        }

        // (what, analytic, numeric) per sampled element
        List<String> what = new ArrayList<>();
        List<double[]> pairs = new ArrayList<>();
        SplittableRandom pick = new SplittableRandom(3);
        Map<String, double[]> targets = new TreeMap<>(w64.arrays());
        for (int i = 0; i < inputs.length; i++) if (x64[i] != null) targets.put("input " + i, x64[i]);
        for (var e : targets.entrySet()) {
            double[] a = e.getValue();
            String key = e.getKey();
            double[] analytic = key.startsWith("input ") ? tape.grad(in[Integer.parseInt(key.substring(6))]).toDoubleArray() : tape.grad(params.get(key)).toDoubleArray();
            for (int s = 0; s < Math.min(samples, a.length); s++) {
                int j = pick.nextInt(a.length);
                double keep = a[j];
                a[j] = keep + EPS;
                double up = dot(model64.apply(in64), rw);
                a[j] = keep - EPS;
                double down = dot(model64.apply(in64), rw);
                a[j] = keep;
                what.add(key + "[" + j + "]");
                pairs.add(new double[]{analytic[j], (up - down) / (2 * EPS)});
            }
        }
        double maxNum = 0;
        for (double[] p : pairs) maxNum = Math.max(maxNum, Math.abs(p[1]));
        double worst = 0;
        String worstAt = "";
        for (int i = 0; i < pairs.size(); i++) {
            double[] p = pairs.get(i);
            double err = Math.abs(p[0] - p[1]) / Math.max(Math.abs(p[1]), 0.01 * maxNum);
            if (err > worst) { worst = err; worstAt = what.get(i) + " analytic " + p[0] + " numeric " + p[1]; }
        }
        System.out.printf(Locale.ROOT, "model gradcheck %-44s %d elements of %d tensors: max rel error %.2e (at %s), %.1f s%n",
                name, pairs.size(), targets.size(), worst, worstAt, (System.nanoTime() - start) / 1e9);
        return worst;
    }

    static double dot(Tensor y, double[] w) {
        double[] a = y.toDoubleArray();
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * w[i];
        return s;
    }

    @Test
    void unet() throws IOException {
        var config = UNet2DConditionModel.readConfig(TINY.resolve("unet/config.json"));
        SplittableRandom r = new SplittableRandom(1);
        Tensor timesteps = Tensor.of(new float[]{37f, 801f}, 2);
        double err = check("tiny-sd UNet [2,4,8,8], text [2,3,32]", weights(TINY.resolve("unet")),
                (w, be) -> { var unet = UNet2DConditionModel.load(config, w, be); return in -> unet.forward(in[0], timesteps, in[1]); },
                1, random(r, 2, 4, 8, 8), random(r, 2, 3, 32));
        assertTrue(err < TOL, "UNet gradient error " + err);
    }

    @Test
    void vae() throws IOException {
        var config = AutoencoderKLConfig.from(JsonConfig.read(TINY.resolve("vae/config.json")));
        SplittableRandom r = new SplittableRandom(2);
        Tensor noise = random(r, 1, 4, 4, 4);
        double err = check("tiny-sd VAE encode+sample+decode [1,3,8,8]", weights(TINY.resolve("vae")),
                (w, be) -> { var vae = AutoencoderKL.load(config, w, be); return in -> vae.decode(vae.encode(in[0]).sample(noise)); },
                1, random(r, 1, 3, 8, 8));
        assertTrue(err < TOL, "VAE gradient error " + err);
    }

    @Test
    void clipTextEncoder() throws IOException {
        Path dir = Path.of(System.getProperty("fixtures.dir", "../../shared/fixtures")).resolve("clip-text-gelu");
        var config = ClipTextConfig.from(JsonConfig.read(dir.resolve("config.json")));
        Tensor ids = Tensor.ofLongs(new long[]{49406, 320, 1125, 539, 49407, 49406, 2368, 49407, 49407, 49407}, 2, 5);
        double err = check("CLIP text (gelu, projection) ids [2,5]", weights(dir),
                (w, be) -> { var clip = ClipTextModel.load(config, w, be, true); return in -> { var o = clip.forward(ids); return be.concat(1, o.last_hidden_state().reshape(2, -1), o.text_embeds()); }; },
                2);
        assertTrue(err < TOL, "CLIP gradient error " + err);
    }

    @Test
    void tldDenoiser() throws IOException {
        Path dir = Path.of(System.getProperty("fixtures.dir", "../../shared/fixtures")).resolve("tld-denoiser");
        var config = DenoiserConfig.from(JsonConfig.read(dir.resolve("config.json")));
        SplittableRandom r = new SplittableRandom(4);
        double err = check("TLD denoiser [2,4,8,8]", weights(dir),
                (w, be) -> { var model = Denoiser.load(config, w, be); return in -> model.forward(in[0], in[1], in[2]); },
                1, random(r, 2, 4, 8, 8), GradCheck.uniform(r, 0, 1, 2, 1), random(r, 2, 32));
        assertTrue(err < TOL, "TLD gradient error " + err);
    }
}
