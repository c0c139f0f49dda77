package dev.tornadodiffusion.nn.unet;

import dev.tornadodiffusion.tensor.Tensor;

import java.util.List;

/** A block of the UNet's contracting path: {@link DownBlock2D} or {@link CrossAttnDownBlock2D}. */
public interface DownBlock {
    /**
     * Runs the block and appends the states the up path concatenates back (diffusers' {@code output_states}:
     * each layer's output, then the downsampled output) to {@code outputStates}.
     *
     * @param encoderHiddenStates the text conditioning; ignored by blocks without attention
     */
    Tensor forward(Tensor hidden, Tensor temb, Tensor encoderHiddenStates, List<Tensor> outputStates);
}
