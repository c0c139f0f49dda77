package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.nn.unet.UNetConditioning;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;

/**
 * The first stage of a UNet pipeline: the prompt encoded by the pipeline's own text side
 * ({@link UNetPipeline#encodePrompt}), arranged as the UNet's conditioning for every step.
 */
final class Conditioning {
    private Conditioning() {}

    /**
     * What a pipeline's prompt encoding gives: the encoder outputs, each repeated to the batch; negatives null without
     * CFG; pooled and time ids (CFG: negative rows included) null without SDXL's text_time conditioning.
     */
    record Prompt(Tensor states, Tensor negativeStates, Tensor pooled, Tensor negativePooled, Tensor timeIds) {
        Prompt(Tensor states, Tensor negativeStates) { this(states, negativeStates, null, null, null); }

        int rows() { return states.dim(0); }
    }

    /**
     * The UNet's conditioning for every step: the prompt states (negative rows first with CFG), SDXL's pooled
     * embedding and time ids, LCM's guidance embedding.
     */
    static UNetConditioning encode(UNetPipeline p, GenerationRequest r, Plan plan, Progress progress) {
        progress.stage("text encoder");
        Prompt prompt = p.encodePrompt(r, plan);
        Backend be = p.be;
        boolean doCfg = plan.doCfg();
        Tensor states = doCfg ? be.concat(0, prompt.negativeStates(), prompt.states()) : prompt.states();
        Tensor pooled = prompt.pooled() == null ? null : doCfg ? be.concat(0, prompt.negativePooled(), prompt.pooled()) : prompt.pooled();
        if (prompt.timeIds() != null) checkAddedConditioning(p, prompt.timeIds().dim(1), prompt.pooled().dim(1), plan.img2img());
        Integer guidanceDim = p.unet.config.time_cond_proj_dim();
        Tensor timestepCond = guidanceDim == null ? null : UNetConditioning.guidanceScaleEmbedding(plan.guidance(), guidanceDim, prompt.rows());
        return new UNetConditioning(states, pooled, prompt.timeIds(), timestepCond);
    }

    /** The UNet's add_embedding takes addition_time_embed_dim features per time id plus the pooled embedding. */
    private static void checkAddedConditioning(UNetPipeline p, int timeIds, int pooledDim, boolean img2img) {
        int expected = p.unet.config.projection_class_embeddings_input_dim(), passed = p.unet.config.addition_time_embed_dim() * timeIds + pooledDim;
        if (passed != expected)
            throw new IllegalArgumentException(p.folder.resolve("unet/config.json") + ": the UNet expects " + expected + " added conditioning features, "
                    + timeIds + " time ids and the " + pooledDim + "-wide pooled embedding give " + passed
                    + (img2img ? " (check requires_aesthetics_score in model_index.json)" : ""));
    }
}
