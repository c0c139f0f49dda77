package dev.tornadodiffusion.tensor.tornado;

import dev.tornadodiffusion.tensor.Tensor;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.api.types.arrays.TornadoNativeArray;

import java.util.HashMap;
import java.util.Map;

/**
 * The host-side arrays of the constants (weights) of every plan on the backend, one per weight: a model recorded
 * at several input shapes, and the one-op plans of eager mode, share them instead of each copying every weight
 * again. Counted by the plans that use them and dropped with the last. (Each TornadoVM execution plan still keeps
 * its own device copy: TornadoVM 5.2 cannot share device buffers between plans.)
 */
final class Constants {
    private record Entry(TornadoNativeArray buffer, int[] users) {}

    /** A weight and whether it is stored as fp16 (one weight may be both: an fp16 GEMM operand and a 16-bit embedding table). */
    private record Key(Recording.LeafKey leaf, boolean half) {}

    private final Map<Key, Entry> arrays = new HashMap<>();

    /** Gives {@code leaf} the shared array of its weight, made from {@code host} (as fp16 if {@code half}) by the first plan that needs it. */
    synchronized void acquire(Leaf leaf, Tensor host, boolean half) {
        Key key = new Key(leaf.key(), half);
        Entry e = arrays.get(key);
        if (e == null) {
            leaf.allocate(host, half);
            arrays.put(key, new Entry(leaf.buffer, new int[]{1}));
        } else {
            leaf.buffer = e.buffer;
            e.users[0]++;
        }
    }

    synchronized void release(Leaf leaf) {
        Key key = new Key(leaf.key(), leaf.buffer instanceof HalfFloatArray);
        Entry e = arrays.get(key);
        if (e != null && e.buffer == leaf.buffer && --e.users[0] == 0) arrays.remove(key);
    }
}
