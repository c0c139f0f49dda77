package dev.tornadodiffusion.nn.unet;

import dev.tornadodiffusion.tensor.Tensor;

import java.util.List;

/** A block of the UNet's expanding path: {@link UpBlock2D} or {@link CrossAttnUpBlock2D}. */
public interface UpBlock {
    /** How many skip connections the block consumes (one per resnet). */
    int numLayers();

    /**
     * @param resHiddenStates the skip connections for this block, in down-path order; each layer takes the last
     *                        remaining one and concatenates it to its input on the channel axis
     * @param upsampleSize    [height, width] the upsampler must produce, or null for plain 2x
     */
    Tensor forward(Tensor hidden, List<Tensor> resHiddenStates, Tensor temb, Tensor encoderHiddenStates, int[] upsampleSize);
}
