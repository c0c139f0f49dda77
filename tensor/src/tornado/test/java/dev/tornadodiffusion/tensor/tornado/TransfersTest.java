package dev.tornadodiffusion.tensor.tornado;

import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The backend's own transfer counts: a replayed forward pass copies its inputs in and its result out, its weight only once. */
class TransfersTest {
    final Tensor weight = Tensor.of(new float[]{1, 2, 3, 4, 5, 6}, 6);

    Tensor[] run(TornadoBackend be, Tensor x, Tensor y) {
        return be.runAll(this, in -> new Tensor[]{be.add(be.mul(in[0], weight), in[1])}, x, y);
    }

    @Test
    void replayMovesInputsInAndTheResultOut() {
        TornadoBackend be = (TornadoBackend) Backends.get("tornado");
        Tensor x = Tensor.of(new float[]{1, 1, 1, 1, 1, 1}, 6), y = Tensor.of(new float[]{0, 1, 0, 1, 0, 1}, 6);
        Transfers.Totals t0 = be.transfers();
        run(be, x, y);
        Transfers.Totals t1 = be.transfers();
        assertTrue(t1.toDevice() - t0.toDevice() >= 3, "the first execution uploads the weight too: " + t1);
        Tensor[] out = run(be, Tensor.of(new float[]{2, 2, 2, 2, 2, 2}, 6), y);
        Transfers.Totals t2 = be.transfers();
        assertEquals(1, t2.executions() - t1.executions());
        assertEquals(2, t2.toDevice() - t1.toDevice(), "two inputs in");
        assertEquals(2 * 6 * 4, t2.toDeviceBytes() - t1.toDeviceBytes());
        assertEquals(1, t2.toHost() - t1.toHost(), "one result out");
        assertEquals(6 * 4, t2.toHostBytes() - t1.toHostBytes());
        assertEquals(13f, out[0].getFlat(5));
    }
}
