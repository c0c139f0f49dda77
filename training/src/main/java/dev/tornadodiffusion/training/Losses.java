package dev.tornadodiffusion.training;

import dev.tornadodiffusion.tensor.Tensor;

import java.util.Arrays;

/** Scalar losses built from tape ops, so their gradients come with the rest of the backward pass. */
public final class Losses {
    private Losses() {}

    /** mean((prediction - target)^2), torch.nn.functional.mse_loss. */
    public static Tensor mse(Tape tape, Tensor prediction, Tensor target) {
        check(prediction, target);
        Tensor d = tape.sub(prediction, target);
        return tape.mean(tape.mul(d, d));
    }

    /** mean(|prediction - target|), torch.nn.functional.l1_loss. */
    public static Tensor l1(Tape tape, Tensor prediction, Tensor target) {
        check(prediction, target);
        return tape.mean(tape.abs(tape.sub(prediction, target)));
    }

    private static void check(Tensor prediction, Tensor target) {
        if (!prediction.sameShape(target))
            throw new IllegalArgumentException("loss: prediction " + Arrays.toString(prediction.shape()) + " and target " + Arrays.toString(target.shape()) + " differ in shape");
    }
}
