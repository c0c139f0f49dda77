package dev.tornadodiffusion.tensor.tornado;

import dev.tornadodiffusion.tensor.Tensor;
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

    private final Map<Recording.LeafKey, Entry> arrays = new HashMap<>();

    /** Gives {@code leaf} the shared array of its weight, made from {@code host} by the first plan that needs it. */
    synchronized void acquire(Leaf leaf, Tensor host) {
        Entry e = arrays.get(leaf.key());
        if (e == null) {
            leaf.allocate(host);
            arrays.put(leaf.key(), new Entry(leaf.buffer, new int[]{1}));
        } else {
            leaf.buffer = e.buffer;
            e.users[0]++;
        }
    }

    synchronized void release(Leaf leaf) {
        Entry e = arrays.get(leaf.key());
        if (e != null && e.buffer == leaf.buffer && --e.users[0] == 0) arrays.remove(leaf.key());
    }
}
