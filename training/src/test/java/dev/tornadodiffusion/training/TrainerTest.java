package dev.tornadodiffusion.training;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.training.data.ShapesDataset;
import dev.tornadodiffusion.training.optim.AdamW;
import dev.tornadodiffusion.training.optim.LrSchedule;
import dev.tornadodiffusion.training.tasks.VaeTask;
import dev.tornadodiffusion.weights.Json;
import dev.tornadodiffusion.weights.ModelFiles;
import dev.tornadodiffusion.weights.StateDict;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class TrainerTest {
    /** A VAE small enough to train a few steps in a second. */
    static ObjectNode tinyVae() {
        return (ObjectNode) Json.parse("""
                {"_class_name": "AutoencoderKL", "block_out_channels": [8, 8], "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
                 "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"], "in_channels": 3, "out_channels": 3, "latent_channels": 2,
                 "layers_per_block": 1, "norm_num_groups": 4, "sample_size": 32, "scaling_factor": 1.0}""", "test");
    }

    static Trainer.Result train(Path out, int steps, int accumulation, long seed) throws Exception {
        Tape tape = Tape.cpu();
        ShapesDataset data = new ShapesDataset(seed, 64, 32, false);
        VaeTask task = new VaeTask(tinyVae(), new Parameters("vae"), seed, tape, 1e-3, data, 0, false);
        Trainer.Settings s = new Trainer.Settings(6, 2, accumulation, 3e-3, 2, 0.1, 0.01, 1.0, 0.9, 1, 0, 3, seed, DType.F32);
        // stop after `steps` by running a trainer whose schedule still spans 6 steps: the interrupted run
        Trainer.Settings stopEarly = new Trainer.Settings(6, 2, accumulation, 3e-3, 2, 0.1, 0.01, 1.0, 0.9, 1, 0, 3, seed, DType.F32);
        return new Trainer(task, tape, data, steps == 6 ? s : stopEarly, out).run(new PrintStream(new ByteArrayOutputStream()), steps);
    }

    static float[] weights(Path model) throws Exception {
        try (StateDict w = ModelFiles.open(model.resolve("model"))) {
            float[][] parts = w.keys().stream().sorted().map(k -> w.get(k).toFloatArray()).toArray(float[][]::new);
            int n = 0;
            for (float[] p : parts) n += p.length;
            float[] all = new float[n];
            int at = 0;
            for (float[] p : parts) { System.arraycopy(p, 0, all, at, p.length); at += p.length; }
            return all;
        }
    }

    @Test
    void sameSeedGivesIdenticalWeights(@TempDir Path dir) throws Exception {
        Trainer.Result a = train(dir.resolve("a"), 6, 1, 3), b = train(dir.resolve("b"), 6, 1, 3);
        assertEquals(a.losses(), b.losses());
        assertArrayEquals(weights(dir.resolve("a")), weights(dir.resolve("b")));
        Trainer.Result c = train(dir.resolve("c"), 6, 1, 4);
        assertNotEquals(a.losses(), c.losses());
        assertTrue(a.losses().getLast() < a.losses().getFirst(), "the loss should fall: " + a.losses());
    }

    @Test
    void resumedRunContinuesTheCurve(@TempDir Path dir) throws Exception {
        Trainer.Result whole = train(dir.resolve("whole"), 6, 2, 5);
        Trainer.Result first = train(dir.resolve("split"), 3, 2, 5);
        Trainer.Result rest = train(dir.resolve("split"), 6, 2, 5);
        assertEquals(0, first.firstStep());
        assertEquals(3, rest.firstStep());
        assertEquals(whole.losses().subList(0, 3), first.losses());
        assertEquals(whole.losses().subList(3, 6), rest.losses());
        assertArrayEquals(weights(dir.resolve("whole")), weights(dir.resolve("split")));
        assertEquals(Files.readAllLines(dir.resolve("whole/loss.csv")), Files.readAllLines(dir.resolve("split/loss.csv")));
    }

    @Test
    void adamWFirstStepAndDecoupledDecay() {
        Tensor p = Tensor.of(new float[]{1f, -2f, 0.5f, 3f}, 2, 2), bias = Tensor.of(new float[]{1f, 1f}, 2);
        Tensor g = Tensor.of(new float[]{0.5f, -0.1f, 0f, 4f}, 2, 2), gb = Tensor.of(new float[]{2f, -2f}, 2);
        AdamW opt = new AdamW(new AdamW.Config(0.9, 0.999, 1e-8, 0.1));
        opt.step(Map.of("w", p, "b", bias), Map.of("w", g, "b", gb), 0.01);
        // step 1: m_hat = g, v_hat = g^2, so the Adam update is sign(g); the matrix is also decayed by lr * wd * p
        float[] expected = {1f - 0.001f - 0.01f, -2f + 0.002f + 0.01f, 0.5f - 0.0005f, 3f - 0.003f - 0.01f};
        assertArrayEquals(expected, p.toFloatArray(), 1e-6f);
        assertArrayEquals(new float[]{0.99f, 1.01f}, bias.toFloatArray(), 1e-6f);   // 1-D: no decay
    }

    @Test
    void clippingScalesToTheMaximumNorm() {
        Tensor a = Tensor.of(new float[]{3f, 0f}, 2), b = Tensor.of(new float[]{4f}, 1);
        double norm = AdamW.clipGradNorm(Map.of("a", a, "b", b), 1.0);
        assertEquals(5.0, norm, 1e-9);
        assertArrayEquals(new float[]{0.6f, 0f}, a.toFloatArray(), 1e-5f);
        assertArrayEquals(new float[]{0.8f}, b.toFloatArray(), 1e-5f);
    }

    @Test
    void warmupThenCosine() {
        LrSchedule s = new LrSchedule(1.0, 10, 110, 0.1);
        assertEquals(0.1, s.lr(0), 1e-12);
        assertEquals(1.0, s.lr(9), 1e-12);
        assertEquals(1.0, s.lr(10), 1e-12);
        assertEquals(0.1 + 0.9 * 0.5, s.lr(60), 1e-12);
        assertEquals(0.1, s.lr(110), 1e-12);
        List<Double> lrs = java.util.stream.LongStream.range(10, 110).mapToObj(s::lr).toList();
        for (int i = 1; i < lrs.size(); i++) assertTrue(lrs.get(i) <= lrs.get(i - 1));
    }
}
