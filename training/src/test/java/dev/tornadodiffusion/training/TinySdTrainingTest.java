package dev.tornadodiffusion.training;

import dev.tornadodiffusion.weights.JsonConfig;
import dev.tornadodiffusion.nn.clip.ClipTextConfig;
import dev.tornadodiffusion.nn.clip.ClipTextModel;
import dev.tornadodiffusion.nn.unet.UNet2DConditionModel;
import dev.tornadodiffusion.nn.vae.AutoencoderKL;
import dev.tornadodiffusion.nn.vae.AutoencoderKLConfig;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.ModelFiles;
import dev.tornadodiffusion.weights.StateDict;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The bundled tiny-sd's UNet, CLIP text encoder and VAE trained jointly through their unchanged forward code: every
 * parameter gets a gradient, plain gradient descent lowers the loss, and two runs give the same bits.
 */
class TinySdTrainingTest {
    static final Path TINY = Path.of("../models/tiny-sd");

    record Models(Tape tape, List<Parameters> params, UNet2DConditionModel unet, ClipTextModel clip, AutoencoderKL vae) {}

    static Parameters copy(Path folder) throws IOException {
        try (StateDict w = ModelFiles.open(folder, null)) {
            return Parameters.copyOf(w);
        }
    }

    static Models load() throws IOException {
        Tape tape = Tape.cpu();
        Parameters u = tape.track(copy(TINY.resolve("unet"))), c = tape.track(copy(TINY.resolve("text_encoder"))), v = tape.track(copy(TINY.resolve("vae")));
        var unet = UNet2DConditionModel.load(UNet2DConditionModel.readConfig(TINY.resolve("unet/config.json")), u, tape);
        var clip = ClipTextModel.load(ClipTextConfig.from(JsonConfig.read(TINY.resolve("text_encoder/config.json"))), c, tape, false);
        var vae = AutoencoderKL.load(AutoencoderKLConfig.from(JsonConfig.read(TINY.resolve("vae/config.json"))), v, tape);
        return new Models(tape, List.of(u, c, v), unet, clip, vae);
    }

    static Tensor random(SplittableRandom r, int... shape) {
        float[] a = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < a.length; i++) a[i] = (float) r.nextDouble(-1, 1);
        return Tensor.of(a, shape);
    }

    /** VAE reconstruction + the UNet's noise prediction conditioned on the text encoder, one batch of 2. */
    static Tensor loss(Models m) {
        SplittableRandom r = new SplittableRandom(7);
        Tape t = m.tape();
        Tensor image = random(r, 2, 3, 32, 32), noise = random(r, 2, 4, 16, 16), latentNoise = random(r, 2, 4, 16, 16);
        Tensor ids = Tensor.ofLongs(new long[]{49406, 320, 1125, 49407, 49407, 49406, 320, 2368, 49407, 49407}, 2, 5);
        Tensor latent = m.vae().encode(image).sample(latentNoise);
        Tensor recon = Losses.mse(t, m.vae().decode(latent), image);
        Tensor text = m.clip().forward(ids).last_hidden_state();
        Tensor noisy = t.add(t.scale(m.vae().scaleLatents(latent), 0.7f), t.scale(noise, 0.7f));
        Tensor eps = m.unet().forward(noisy, Tensor.of(new float[]{10f, 500f}, 2), text);
        return t.add(recon, Losses.mse(t, eps, noise));
    }

    @Test
    void everyParameterLearnsAndDescentLowersTheLoss() throws IOException {
        Models m = load();
        List<Float> losses = new ArrayList<>();
        for (int step = 0; step < 4; step++) {
            m.tape().zeroGrad();
            Tensor loss = loss(m);
            losses.add(loss.item());
            m.tape().backward(loss);
            for (Parameters p : m.params())
                for (String k : p.keys()) {
                    float[] g = m.tape().grad(p.get(k)).array();
                    if (step == 0) {
                        double norm = 0;
                        for (float x : g) norm += x * x;
                        assertTrue(norm > 0, p.source() + " " + k + " got no gradient");
                    }
                    float[] w = p.get(k).array();
                    for (int i = 0; i < w.length; i++) w[i] -= 0.05f * g[i];
                }
        }
        assertTrue(losses.getLast() < losses.getFirst(), "loss did not fall: " + losses);
    }

    /** The reductions of the backward ops have a fixed order whatever the thread count: 1 and 3 threads give this JVM's bits. */
    @Test
    void gradientsDoNotDependOnTheThreadCount() throws Exception {
        String here = GradientDigest.digest();
        for (int threads : new int[]{1, 3}) {
            Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--add-modules=jdk.incubator.vector",
                    "-Xss8m", "-Xmx1g", "-Dtd.threads=" + threads, "-cp", System.getProperty("java.class.path"), GradientDigest.class.getName())
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            String out = new String(p.getInputStream().readAllBytes()).strip();
            assertEquals(0, p.waitFor());
            assertEquals(here, out, threads + " threads");
        }
    }

    @Test
    void gradientsRepeatBitForBit() throws IOException {
        float[][] runs = new float[2][];
        for (int run = 0; run < 2; run++) {
            Models m = load();
            m.tape().backward(loss(m));
            Parameters u = m.params().getFirst();
            runs[run] = m.tape().grad(u.get("down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight")).toFloatArray();
        }
        assertArrayEquals(runs[0], runs[1]);
    }
}
