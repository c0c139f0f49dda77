package dev.tornadodiffusion.tensor.tornado;

import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * A dense F32 result of a recorded operation: it lives on the device only. The model sees it as a pending
 * {@link Tensor}; copies the model asks for (a reshape of a permuted view, say) become recorded operations too.
 */
final class Value implements Tensor.Pending {
    final Recording recording;
    final int id;
    final int[] shape;
    final Tensor tensor;
    FloatArray buffer;          // assigned when the plan is built (pooled with other values)

    Value(Recording recording, int id, int[] shape) {
        this.recording = recording;
        this.id = id;
        this.shape = shape.clone();
        this.tensor = Tensor.pending(this, shape);
    }

    int numel() { return Math.toIntExact(Tensor.numel(shape)); }

    @Override
    public Tensor copy(Tensor view, DType target) {
        if (target != DType.F32)
            throw new IllegalStateException("converting " + view + " to " + target + " on the device is not supported");
        return recording.backend.contiguous(view);
    }
}
