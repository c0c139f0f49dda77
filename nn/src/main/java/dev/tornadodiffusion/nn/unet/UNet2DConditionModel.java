package dev.tornadodiffusion.nn.unet;

import dev.tornadodiffusion.nn.Conv2d;
import dev.tornadodiffusion.nn.GroupNorm;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.nn.TimestepEmbedding;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Json;
import dev.tornadodiffusion.weights.ModelFiles;
import dev.tornadodiffusion.weights.StateDict;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * diffusers' {@code UNet2DConditionModel} (models/unets/unet_2d_condition.py, v0.27.2), the denoiser of SD 1.x,
 * SD 2.x and SDXL: predicts the noise (or v) in a latent, given a timestep and text conditioning.
 * <pre>
 *   emb = time_embedding(time_proj(t)) [+ add_embedding(text_embeds, time_proj'(time_ids))]   (SDXL: text_time)
 *   h = conv_in(sample); skips = [h]
 *   down_blocks: resnets (+ cross-attention transformers), each output kept as a skip, then downsample
 *   mid_block:   resnet, transformer, resnet
 *   up_blocks:   resnets over [h, skip] (+ transformers), then upsample
 *   out = conv_out(silu(conv_norm_out(h)))
 * </pre>
 */
public final class UNet2DConditionModel implements AutoCloseable {
    public final UNet2DConditionConfig config;
    public final Conv2d conv_in;
    public final TimestepEmbedding time_embedding;
    /** SDXL's embedding of the pooled text embedding and the six size/crop conditioning ids, or null. */
    public final TimestepEmbedding add_embedding;
    public final List<DownBlock> down_blocks = new ArrayList<>();
    public final UNetMidBlock2DCrossAttn mid_block;
    public final List<UpBlock> up_blocks = new ArrayList<>();
    public final GroupNorm conv_norm_out;
    public final Conv2d conv_out;
    private final int numUpsamplers;
    private final Backend be;
    private final StateDict weights;

    /** Builds the model from weights with diffusers key names; call {@link Params#checkAllUsed()} afterwards. */
    public UNet2DConditionModel(UNet2DConditionConfig config, Params p) {
        this(config, p, null);
    }

    private UNet2DConditionModel(UNet2DConditionConfig c, Params p, StateDict owned) {
        this.config = c;
        this.be = p.backend();
        this.weights = owned;
        int[] channels = c.block_out_channels();
        int n = channels.length;
        this.conv_in = new Conv2d(p.child("conv_in"), c.in_channels(), channels[0], c.conv_in_kernel(), 1, (c.conv_in_kernel() - 1) / 2);

        int timeEmbedDim = c.time_embed_dim();
        this.time_embedding = new TimestepEmbedding(p.child("time_embedding"), channels[0], timeEmbedDim, c.time_cond_proj_dim());
        this.add_embedding = c.addition_embed_type() == null ? null
                : new TimestepEmbedding(p.child("add_embedding"), c.projection_class_embeddings_input_dim(), timeEmbedDim, null);

        int outputChannel = channels[0];
        for (int i = 0; i < n; i++) {
            int inputChannel = outputChannel;
            outputChannel = channels[i];
            Params bp = p.child("down_blocks").child(i);
            UNetBlockConfig bc = UNetBlockConfig.down(c, i, inputChannel, outputChannel);
            down_blocks.add(switch (c.down_block_types().get(i)) {
                case "CrossAttnDownBlock2D" -> new CrossAttnDownBlock2D(bp, bc);
                case "DownBlock2D" -> new DownBlock2D(bp, bc);
                default -> throw new IllegalArgumentException("down block type " + c.down_block_types().get(i));
            });
        }

        this.mid_block = new UNetMidBlock2DCrossAttn(p.child("mid_block"), UNetBlockConfig.mid(c));

        int upsamplers = 0;
        outputChannel = channels[n - 1];
        for (int i = 0; i < n; i++) {
            int rev = n - 1 - i;   // the down block at the same resolution
            boolean isFinal = i == n - 1;
            int prevOutputChannel = outputChannel;
            outputChannel = channels[rev];
            int inputChannel = channels[Math.max(rev - 1, 0)];
            if (!isFinal) upsamplers++;
            Params bp = p.child("up_blocks").child(i);
            UNetBlockConfig bc = UNetBlockConfig.up(c, i, inputChannel, prevOutputChannel, outputChannel);
            up_blocks.add(switch (c.up_block_types().get(i)) {
                case "CrossAttnUpBlock2D" -> new CrossAttnUpBlock2D(bp, bc);
                case "UpBlock2D" -> new UpBlock2D(bp, bc);
                default -> throw new IllegalArgumentException("up block type " + c.up_block_types().get(i));
            });
        }
        this.numUpsamplers = upsamplers;

        this.conv_norm_out = new GroupNorm(p.child("conv_norm_out"), c.norm_num_groups(), channels[0], c.norm_eps());
        this.conv_out = new Conv2d(p.child("conv_out"), channels[0], c.out_channels(), c.conv_out_kernel(), 1, (c.conv_out_kernel() - 1) / 2);
    }

    /**
     * Loads {@code folder/config.json} and the folder's diffusers weights ({@code diffusion_pytorch_model[.variant].safetensors},
     * or sharded). Weights are used as stored (F16/BF16 stay F16/BF16) and stay mapped until {@link #close()}.
     *
     * @param variant weight file variant such as "fp16", or null
     */
    public static UNet2DConditionModel load(Path folder, Backend be, String variant) throws IOException {
        UNet2DConditionConfig config = readConfig(folder.resolve("config.json"));
        return StateDict.loadOrClose(ModelFiles.open(folder, variant), w -> load(config, w, be));
    }

    /** Builds the model over {@code weights} (diffusers key names, strict: every key used); closing the model closes them. */
    public static UNet2DConditionModel load(UNet2DConditionConfig config, StateDict weights, Backend be) {
        return Params.strict(weights, be, p -> new UNet2DConditionModel(config, p, weights));
    }

    public static UNet2DConditionConfig readConfig(Path configJson) throws IOException {
        return UNet2DConditionConfig.fromJson(Json.read(configJson), configJson.toString());
    }

    /** SD 1.x / 2.x: {@link #forward(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, BiConsumer)} without SDXL conditioning. */
    public Tensor forward(Tensor sample, Tensor timestep, Tensor encoderHiddenStates) {
        return forward(sample, timestep, encoderHiddenStates, null, null, null, null);
    }

    /** With SDXL's text_time conditioning (both null for SD 1.x / 2.x). */
    public Tensor forward(Tensor sample, Tensor timestep, Tensor encoderHiddenStates, Tensor textEmbeds, Tensor timeIds) {
        return forward(sample, timestep, encoderHiddenStates, textEmbeds, timeIds, null, null);
    }

    /** {@link #forward(Tensor, Tensor, UNetConditioning)} as one device call (Backend.run). */
    public Tensor predict(Tensor sample, Tensor timestep, UNetConditioning c) {
        return be.run(this, x -> forward(x[0], x[1], c.bind(x, 2)), c.inputs(sample, timestep));
    }

    /** The noise prediction for {@code sample} under a pipeline's conditioning (see the full overload). */
    public Tensor forward(Tensor sample, Tensor timestep, UNetConditioning c) {
        return forward(sample, timestep, c.encoderHiddenStates(), c.textEmbeds(), c.timeIds(), c.timestepCond(), null);
    }

    /**
     * The noise prediction for {@code sample}.
     *
     * @param sample              latents [B, in_channels, H, W]
     * @param timestep            a 0-dim, [1] or [B] tensor, int64 or float (one timestep is broadcast to the batch)
     * @param encoderHiddenStates text encoder states [B, tokens, cross_attention_dim]
     * @param textEmbeds          SDXL pooled text embedding [B, P], null without addition_embed_type
     * @param timeIds             SDXL size/crop conditioning [B, 6], null without addition_embed_type
     * @param timestepCond        LCM guidance embedding [B, time_cond_proj_dim], or null
     * @param observer            receives intermediates under diffusers' module names (time_proj, time_embedding,
     *                            add_time_proj, add_embedding, conv_in, down_blocks.i, mid_block, up_blocks.i,
     *                            conv_norm_out); null for none
     * @return [B, out_channels, H, W]
     */
    public Tensor forward(Tensor sample, Tensor timestep, Tensor encoderHiddenStates, Tensor textEmbeds, Tensor timeIds,
                          Tensor timestepCond, BiConsumer<String, Tensor> observer) {
        BiConsumer<String, Tensor> trace = observer == null ? (name, t) -> {} : observer;
        checkInputs(sample, encoderHiddenStates);
        int batch = sample.dim(0);

        // Sizes that are not a multiple of 2^upsamplers make each upsampler resize to its skip connection's size.
        int overallUpFactor = 1 << numUpsamplers;
        boolean forwardUpsampleSize = sample.dim(2) % overallUpFactor != 0 || sample.dim(3) % overallUpFactor != 0;

        if (config.center_input_sample()) sample = be.sub(be.scale(sample, 2f), Tensor.scalar(1f));

        Tensor tEmb = timeProj(timesteps(timestep, batch), config.block_out_channels()[0]);
        // one timestep is broadcast to the batch (diffusers: timesteps.expand(batch))
        if (tEmb.dim(0) != batch) tEmb = be.concat(0, Collections.nCopies(batch, tEmb).toArray(Tensor[]::new));
        trace.accept("time_proj", tEmb);
        Tensor emb = time_embedding.forward(tEmb, timestepCond);
        trace.accept("time_embedding", emb);
        if (add_embedding != null) emb = be.add(emb, augEmbedding(textEmbeds, timeIds, batch, trace));

        sample = conv_in.forward(sample);
        trace.accept("conv_in", sample);
        List<Tensor> downBlockResSamples = new ArrayList<>();
        downBlockResSamples.add(sample);
        for (int i = 0; i < down_blocks.size(); i++) {
            sample = down_blocks.get(i).forward(sample, emb, encoderHiddenStates, downBlockResSamples);
            trace.accept("down_blocks." + i, sample);
        }

        sample = mid_block.forward(sample, emb, encoderHiddenStates);
        trace.accept("mid_block", sample);

        for (int i = 0; i < up_blocks.size(); i++) {
            UpBlock block = up_blocks.get(i);
            boolean isFinal = i == up_blocks.size() - 1;
            List<Tensor> tail = downBlockResSamples.subList(downBlockResSamples.size() - block.numLayers(), downBlockResSamples.size());
            List<Tensor> resSamples = List.copyOf(tail);
            tail.clear();
            int[] upsampleSize = null;
            if (!isFinal && forwardUpsampleSize) {
                Tensor next = downBlockResSamples.getLast();
                upsampleSize = new int[] {next.dim(2), next.dim(3)};
            }
            sample = block.forward(sample, resSamples, emb, encoderHiddenStates, upsampleSize);
            trace.accept("up_blocks." + i, sample);
        }

        if (observer == null) {
            sample = conv_norm_out.forwardSilu(sample);
        } else {   // the observer sees the norm's output before conv_act, as a hook on diffusers' conv_norm_out does
            sample = conv_norm_out.forward(sample);
            trace.accept("conv_norm_out", sample);
            sample = be.silu(sample);
        }
        return conv_out.forward(sample);
    }

    /** diffusers' {@code Timesteps} module: sinusoidal embedding with the config's flip_sin_to_cos and freq_shift. */
    private Tensor timeProj(Tensor timesteps, int dim) {
        return be.timestepEmbedding(timesteps, dim, config.flip_sin_to_cos(), config.freq_shift(), 1f, 10000f);
    }

    /** One timestep or one per sample, as a [1] or [batch] tensor. */
    private static Tensor timesteps(Tensor timestep, int batch) {
        Tensor t = timestep.rank() == 0 ? timestep.reshape(1) : timestep;
        if (t.rank() != 1 || (t.dim(0) != 1 && t.dim(0) != batch))
            throw new IllegalArgumentException("timestep must be 0-dim, [1] or [" + batch + "], got " + Arrays.toString(timestep.shape()));
        return t;
    }

    /**
     * SDXL's addition embedding (addition_embed_type "text_time"): each of the time ids (original size, crop
     * top-left, target size) gets its own sinusoidal embedding; these are flattened per sample, appended to the
     * pooled text embedding and projected to the time embedding width.
     */
    private Tensor augEmbedding(Tensor textEmbeds, Tensor timeIds, int batch, BiConsumer<String, Tensor> trace) {
        if (textEmbeds == null || timeIds == null)
            throw new IllegalArgumentException("this UNet has addition_embed_type 'text_time' and needs text_embeds and time_ids");
        if (textEmbeds.rank() != 2 || textEmbeds.dim(0) != batch || timeIds.rank() != 2 || timeIds.dim(0) != batch)
            throw new IllegalArgumentException("text_embeds " + Arrays.toString(textEmbeds.shape()) + " and time_ids " + Arrays.toString(timeIds.shape())
                    + " must be [" + batch + ", n]");
        int width = textEmbeds.dim(1) + timeIds.dim(1) * config.addition_time_embed_dim();
        if (width != config.projection_class_embeddings_input_dim())
            throw new IllegalArgumentException("text_embeds " + Arrays.toString(textEmbeds.shape()) + " and time_ids " + Arrays.toString(timeIds.shape())
                    + " give " + width + " features, projection_class_embeddings_input_dim is " + config.projection_class_embeddings_input_dim());
        Tensor timeEmbeds = timeProj(timeIds.reshape(-1), config.addition_time_embed_dim());
        trace.accept("add_time_proj", timeEmbeds);
        Tensor addEmbeds = be.concat(1, textEmbeds, timeEmbeds.reshape(batch, -1));
        Tensor aug = add_embedding.forward(addEmbeds, null);
        trace.accept("add_embedding", aug);
        return aug;
    }

    private void checkInputs(Tensor sample, Tensor encoderHiddenStates) {
        if (sample.rank() != 4 || sample.dim(1) != config.in_channels())
            throw new IllegalArgumentException("sample must be [B, " + config.in_channels() + ", H, W], got " + Arrays.toString(sample.shape()));
        if (encoderHiddenStates == null || encoderHiddenStates.rank() != 3 || encoderHiddenStates.dim(0) != sample.dim(0))
            throw new IllegalArgumentException("encoder_hidden_states must be [" + sample.dim(0) + ", tokens, channels], got "
                    + (encoderHiddenStates == null ? "null" : Arrays.toString(encoderHiddenStates.shape())));
    }

    /** Releases the weights this model was loaded with (memory-mapped files). */
    @Override
    public void close() {
        if (weights != null) weights.close();
    }
}
