package dev.tornadodiffusion.diffusion;

import dev.tornadodiffusion.tensor.Tensor;

/**
 * Where a stochastic scheduler step gets its Gaussian noise: diffusers' {@code randn_tensor(shape, generator)}.
 * A {@link TorchGenerator} is one; a lambda returning prepared tensors injects explicit noise.
 */
@FunctionalInterface
public interface NoiseSource {

    /** A new F32 tensor of standard normal values with the given shape. */
    Tensor randn(int... shape);
}
