package dev.tornadodiffusion.tensor;

/**
 * The backward (vector-Jacobian) operations of the {@link Backend} ops that are not themselves compositions of
 * forward ops, plus the reductions a loss needs. Given the forward op's inputs and {@code dy}, the gradient of a
 * scalar with respect to its output, each returns the gradient with respect to an input, in that input's shape
 * (broadcast dimensions summed). Backward passes of matmul, linear, add, mul, scale, concat, pad and the views are
 * forward ops of a {@link Backend} applied to {@code dy} (the training tape composes them), so they are not here.
 * Like forward ops, results are new dense F32 tensors and reductions run in a fixed order: a backward pass gives
 * the same bits for the same inputs and thread count.
 */
public interface Backward {

    /** Activations whose derivative is evaluated from the forward input. */
    enum Activation { SILU, GELU, GELU_TANH, QUICK_GELU, SIN, COS, ABS }

    /** {@code dy * f'(x)} for the activation {@code f}. */
    Tensor activationBackward(Activation f, Tensor x, Tensor dy);

    /** {@code dy} where {@code lo <= x <= hi}, else 0 (PyTorch's clamp gradient). */
    Tensor clampBackward(Tensor x, float lo, float hi, Tensor dy);

    /** {@code dy} summed over the dimensions that broadcasting expanded from {@code shape}. */
    Tensor sumTo(Tensor dy, int... shape);

    /** The sum of all elements as a one-element tensor of shape [] (accumulated in double). */
    Tensor sum(Tensor x);

    /** Softmax over the last dimension, from its output: {@code y * (dy - sum(dy * y))}. */
    Tensor softmaxBackward(Tensor y, Tensor dy);

    /** Gradient of {@link Backend#conv2d} with respect to its input [N, C, H, W]; {@code inputShape} gives H and W. */
    Tensor conv2dBackwardInput(Tensor weight, Tensor dy, int[] inputShape, int stride, int padding, int groups);

    /** Gradient of {@link Backend#conv2d} with respect to its weight, as F32 in the weight's shape. */
    Tensor conv2dBackwardWeight(Tensor x, int[] weightShape, Tensor dy, int stride, int padding, int groups);

    /**
     * Gradients {dq, dk, dv} of {@link Backend#attention}, given its output {@code out}. The scores are recomputed
     * block by block as flash attention's backward pass does: no [Nq, Nk] matrix is kept.
     */
    Tensor[] attentionBackward(Tensor q, Tensor k, Tensor v, Tensor out, int heads, boolean causal, Tensor dy);

    /** Gradients {dx, dweight, dbias} of {@link Backend#groupNorm} (with its SiLU when {@code silu}); weight and bias may be null, then so are theirs. */
    Tensor[] groupNormBackward(Tensor x, int groups, Tensor weight, Tensor bias, float eps, boolean silu, Tensor dy);

    /** Gradients {dx, dweight, dbias} of {@link Backend#layerNorm}; weight and bias may be null, then so are theirs. */
    Tensor[] layerNormBackward(Tensor x, Tensor weight, Tensor bias, float eps, Tensor dy);

    /** Gradient of {@link Backend#embedding} with respect to its table [rows, D]: rows of {@code dy} added at their ids, in order. */
    Tensor embeddingBackward(Tensor ids, int rows, Tensor dy);

    /** Gradient of {@link Backend#upsampleNearest2x}: each 2x2 block of {@code dy} summed. */
    Tensor upsampleNearest2xBackward(Tensor dy);

    /** Gradient of {@link Backend#timestepEmbedding} with respect to its timesteps [N]. */
    Tensor timestepEmbeddingBackward(Tensor timesteps, int dim, boolean flipSinToCos, float downscaleFreqShift, float scale, float maxPeriod, Tensor dy);
}
