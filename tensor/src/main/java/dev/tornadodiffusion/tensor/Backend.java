package dev.tornadodiffusion.tensor;

import java.util.function.Function;

/**
 * Every tensor operation the diffusion models need. Model code calls these and never loops over
 * elements itself, so the same model runs eagerly on the CPU or recorded into a TornadoVM plan.
 *
 * Inputs may be any view (strided, any float dtype for weights); outputs are new dense F32 tensors.
 * Layouts follow PyTorch: images are NCHW, token sequences are [batch, tokens, channels].
 */
public interface Backend {

    String name();

    /** {@code a @ b} over the last two dimensions; leading (batch) dimensions broadcast. */
    Tensor matmul(Tensor a, Tensor b);

    /** {@code x @ weight^T + bias} over the last dimension; weight is [out, in] in F32, F16 or BF16; bias may be null. */
    Tensor linear(Tensor x, Tensor weight, Tensor bias);

    /** 2-D convolution, NCHW input, weight [out, in/groups, kh, kw], symmetric zero padding; bias may be null. */
    Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int stride, int padding, int groups);

    /** Zero padding of the last two dimensions of NCHW. */
    Tensor pad2d(Tensor x, int left, int right, int top, int bottom);

    /**
     * Multi-head scaled-dot-product attention, fused: no [Nq, Nk] score matrix is allocated.
     * q [B, Nq, H*D], k [B, Nk, H*D], v [B, Nk, H*Dv] -> [B, Nq, H*Dv], scale 1/sqrt(D).
     * With {@code causal}, query i attends to keys 0..i.
     */
    Tensor attention(Tensor q, Tensor k, Tensor v, int heads, boolean causal);

    /** GroupNorm over dimension 1 of [N, C, ...], affine; optionally followed by SiLU in the same pass. */
    Tensor groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, float eps, boolean silu);

    /** LayerNorm over the last dimension; weight and bias may be null. */
    Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, float eps);

    /** Softmax over the last dimension. */
    Tensor softmax(Tensor x);

    Tensor silu(Tensor x);

    /** Exact GELU, {@code x * Phi(x)} with erf. */
    Tensor gelu(Tensor x);

    /** The tanh approximation of GELU. */
    Tensor geluTanh(Tensor x);

    /** {@code x * sigmoid(1.702 x)}, as in OpenAI CLIP. */
    Tensor quickGelu(Tensor x);

    Tensor exp(Tensor x);

    Tensor sin(Tensor x);

    Tensor cos(Tensor x);

    /** {@code min(max(x, lo), hi)}. */
    Tensor clamp(Tensor x, float lo, float hi);

    /**
     * {@code tanh(x)} as float32. The default computes it on the host, which suits eager backends; a recording backend
     * should override it (TAESD applies it once, to the latents it decodes).
     */
    default Tensor tanh(Tensor x) {
        float[] v = x.toFloatArray();
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) out[i] = (float) Math.tanh(v[i]);
        return Tensor.of(out, x.shape());
    }

    /** Element-wise with NumPy broadcasting. */
    Tensor add(Tensor a, Tensor b);

    Tensor sub(Tensor a, Tensor b);

    Tensor mul(Tensor a, Tensor b);

    Tensor scale(Tensor x, float s);

    /** Concatenation along {@code dim}; all other dimensions must agree. */
    Tensor concat(int dim, Tensor... xs);

    /**
     * Rows of {@code table} [V, D] picked by integer {@code ids} (any shape, values in [0, V)) -> [...ids, D]: token
     * embeddings, pooling at given positions. The ids are data, so a recorded plan serves other ids.
     */
    Tensor embedding(Tensor table, Tensor ids);

    /** Nearest-neighbour 2x upsampling of the last two dimensions. */
    Tensor upsampleNearest2x(Tensor x);

    /**
     * Sinusoidal timestep embedding as diffusers' {@code get_timestep_embedding}: timesteps [N] ->
     * [N, dim], frequencies {@code exp(-ln(maxPeriod) * i / (half - downscaleFreqShift))}, in float32.
     * Order [sin, cos], or [cos, sin] with {@code flipSinToCos}.
     */
    Tensor timestepEmbedding(Tensor timesteps, int dim, boolean flipSinToCos, float downscaleFreqShift, float scale, float maxPeriod);

    /** The {@code dim / 2} frequencies of {@link #timestepEmbedding}, in float32 as diffusers computes them (every backend uses these). */
    static float[] timestepFrequencies(int dim, float downscaleFreqShift, float maxPeriod) {
        int half = dim / 2;
        float[] freqs = new float[half];
        float negLog = (float) -Math.log(maxPeriod);
        float denom = half - downscaleFreqShift;
        for (int i = 0; i < half; i++) freqs[i] = (float) Math.exp((negLog * i) / denom);
        return freqs;
    }

    /** The NumPy broadcast of two shapes (the element-wise operations' and matmul's batch dimensions). */
    static int[] broadcastShape(int[] a, int[] b) {
        int r = Math.max(a.length, b.length);
        int[] out = new int[r];
        for (int i = 0; i < r; i++) {
            int da = i < r - a.length ? 1 : a[i - (r - a.length)];
            int db = i < r - b.length ? 1 : b[i - (r - b.length)];
            if (da != db && da != 1 && db != 1)
                throw new IllegalArgumentException("shapes " + java.util.Arrays.toString(a) + " and " + java.util.Arrays.toString(b) + " do not broadcast");
            out[i] = Math.max(da, db);
        }
        return out;
    }

    /** A dense copy of a view. */
    default Tensor contiguous(Tensor x) { return x.contiguous(); }

    /**
     * One forward pass of {@code model}: {@code forward} applied to {@code inputs}. The CPU backend just calls it.
     * A recording backend (TornadoVM) records the operations of the first call with given input shapes into one
     * device plan, with the weights uploaded once, and replays that plan on later calls, copying in only the
     * inputs and out only the results. So {@code forward} must compute its results from {@code inputs} and the
     * model's weights through this backend's operations, and must not read intermediate values on the host; it
     * may be called more than once per call (twice when recording), so it should have no other side effects.
     * Plans are kept per model, call site of {@code forward} and input shapes.
     */
    default Tensor[] runAll(Object model, Function<Tensor[], Tensor[]> forward, Tensor... inputs) {
        return forward.apply(inputs);
    }

    /** {@link #runAll} for a forward pass with one result. */
    default Tensor run(Object model, Function<Tensor[], Tensor> forward, Tensor... inputs) {
        return runAll(model, in -> new Tensor[]{forward.apply(in)}, inputs)[0];
    }
}
