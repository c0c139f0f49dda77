package dev.tornadodiffusion.tensor.tornado;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static dev.tornadodiffusion.tensor.tornado.TornadoKernelsTest.close;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Record and replay of whole forward passes: a block shaped like a UNet ResNet + transformer layer (timestep
 * embedding from a scalar the model expands on the host, GroupNorm+SiLU, conv, broadcast time-embedding add,
 * residual and scale, a permute + reshape that the model copies, LayerNorm, cross-attention with an F16 q and BF16 k
 * and v projections of one input (fused into one GEMM), GEGLU) runs as one plan, is replayed with new inputs, and
 * matches the CPU backend on every call. The F16 conv and q weights are fp16 arrays on a device with fp16 (the
 * Gemm.gemmHalf and Conv2d.convHalf kernels), raw 16-bit words elsewhere.
 */
class RecordReplayTest {
    static Backend cpu;
    static TornadoBackend tornado;

    @BeforeAll
    static void backends() {
        cpu = Backends.cpu();
        tornado = (TornadoBackend) Backends.get("tornado");
    }

    static final Random rnd = new Random(11);

    static Tensor randn(int... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) rnd.nextGaussian() * 0.5f;
        return Tensor.of(v, shape);
    }

    /** A small model; its weights are fields, as in the nn modules. */
    static final class Block {
        final int c = 8, ctxDim = 12;
        final Tensor tW = randn(c, 16), tB = randn(c), gW = randn(c), gB = randn(c), cW = randn(c, c, 3, 3).to(DType.F16), cB = randn(c),
                lnW = randn(c), lnB = randn(c), qW = randn(c, c).to(DType.F16), kW = randn(c, ctxDim).to(DType.BF16), vW = randn(c, ctxDim).to(DType.BF16),
                oW = randn(c, c), oB = randn(c), ffW = randn(4 * c, c), ffB = randn(4 * c), f2W = randn(c, 2 * c);
        boolean variant;

        /** x [B, C, H, W], t a 0-dim timestep, ctx [B, M, ctxDim] -> {[B, C, H, W], the GEGLU gate view}. */
        Tensor[] forward(Backend be, Tensor x, Tensor t, Tensor ctx) {
            int b = x.dim(0), h = x.dim(2), w = x.dim(3);
            float[] ts = new float[b];
            java.util.Arrays.fill(ts, t.item());            // the UNet broadcasts a scalar timestep on the host
            Tensor temb = be.linear(be.silu(be.timestepEmbedding(Tensor.of(ts, b), 16, true, 0, 1, 10000)), tW, tB);
            Tensor hs = be.conv2d(be.groupNorm(x, 2, gW, gB, 1e-5f, true), cW, cB, 1, 1, 1);
            hs = be.add(hs, temb.reshape(b, c, 1, 1));
            hs = be.scale(be.add(x, hs), variant ? 0.25f : 0.5f);
            Tensor tok = hs.permute(0, 2, 3, 1).reshape(b, h * w, c);
            Tensor n = be.layerNorm(tok, lnW, lnB, 1e-5f);
            Tensor att = be.attention(be.linear(n, qW, null), be.linear(ctx, kW, null), be.linear(ctx, vW, null), 2, false);
            tok = be.add(be.linear(att, oW, oB), tok);
            Tensor[] hg = be.linear(tok, ffW, ffB).chunk(2, -1);
            tok = be.add(be.linear(be.mul(hg[0], be.gelu(hg[1])), f2W, null), tok);
            return new Tensor[]{be.add(tok.reshape(b, h, w, c).permute(0, 3, 1, 2), x), hg[1]};
        }
    }

    /** One call site, so one plan key: (model, this lambda's class, input shapes). */
    static Tensor[] run(Block m, Tensor x, Tensor t, Tensor ctx) {
        return tornado.runAll(m, in -> m.forward(tornado, in[0], in[1], in[2]), x, t, ctx);
    }

    @Test
    void replaysWithNewInputsAndMatchesTheCpuEveryTime() {
        Block m = new Block();
        Tensor ctx = randn(2, 5, m.ctxDim);
        int before = tornado.recordedPlans();
        for (int call = 0; call < 3; call++) {
            Tensor x = randn(2, 8, 3, 5), t = Tensor.ofLongs(new long[]{999 - 400L * call});
            Tensor[] expected = m.forward(cpu, x, t, ctx);
            Tensor[] actual = run(m, x, t, ctx);
            close(expected[0], actual[0], 2e-5);
            close(expected[1], actual[1], 2e-5);
        }
        assertEquals(before + 1, tornado.recordedPlans(), "one plan, recorded once and replayed");
    }

    @Test
    void aChangedOperationSequenceIsRecordedAgain() {
        Block m = new Block();
        Tensor ctx = randn(1, 3, m.ctxDim), x = randn(1, 8, 2, 2), t = Tensor.ofLongs(new long[]{10});
        run(m, x, t, ctx);
        int before = tornado.recordedPlans();
        m.variant = true;
        Tensor[] actual = run(m, x, t, ctx);
        close(m.forward(cpu, x, t, ctx)[0], actual[0], 2e-5);
        assertEquals(before, tornado.recordedPlans(), "the old plan was replaced");
    }

    @Test
    void aForwardPassThatReadsDeviceValuesOnTheHostRunsOperationByOperation() {
        Tensor w = randn(6, 4), x = randn(3, 4);
        Object model = new Object();
        Tensor out = tornado.run(model, in -> {
            Tensor y = tornado.linear(in[0], w, null);
            return tornado.scale(y, y.getFlat(0) > 0 ? 2f : -2f);
        }, x);
        Tensor y = cpu.linear(x, w, null);
        close(cpu.scale(y, y.getFlat(0) > 0 ? 2f : -2f), out, 1e-5);
    }

    @Test
    void deviceValuesCannotBeReadOnTheHostWhileRecording() {
        Tensor w = randn(6, 4), x = randn(3, 4);
        tornado.run(new Object(), in -> {
            Tensor y = tornado.linear(in[0], w, null);
            assertThrows(IllegalStateException.class, () -> y.getFlat(0));
            assertTrue(y.toString().startsWith("PendingTensor"));
            return y;
        }, x);
    }
}
