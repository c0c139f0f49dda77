package dev.tornadodiffusion.training.tasks;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tornadodiffusion.weights.Json;

/**
 * The configs of the bundled models (models/tiny-sd, models/tiny-tld): sized so that the whole chain trains on two
 * CPU cores in well under an hour and generates a 64x64 picture in a few seconds.
 */
public final class TinyModels {
    private TinyModels() {}

    /** AutoencoderKL, 64x64 images <-> 4x16x16 latents (factor 4). */
    public static ObjectNode vae() {
        return object("""
                {"_class_name": "AutoencoderKL", "_diffusers_version": "0.27.2", "act_fn": "silu",
                 "block_out_channels": [16, 32, 32], "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
                 "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"], "force_upcast": true,
                 "in_channels": 3, "out_channels": 3, "latent_channels": 4, "layers_per_block": 1, "norm_num_groups": 8,
                 "sample_size": 64, "scaling_factor": 1.0}""");
    }

    /** CLIPTextModel: the real CLIP vocabulary, 32-wide, 24 tokens (the shapes captions need at most 19). */
    public static ObjectNode textEncoder() {
        return object("""
                {"architectures": ["CLIPTextModel"], "model_type": "clip_text_model", "attention_dropout": 0.0, "dropout": 0.0,
                 "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1, "hidden_act": "quick_gelu", "hidden_size": 32,
                 "initializer_factor": 1.0, "initializer_range": 0.02, "intermediate_size": 64, "layer_norm_eps": 1e-05,
                 "max_position_embeddings": 24, "num_attention_heads": 2, "num_hidden_layers": 2, "projection_dim": 32,
                 "torch_dtype": "float16", "vocab_size": 49408}""");
    }

    /** UNet2DConditionModel on 4x16x16 latents; attention (self and to the text) at the 8x8 level and in the middle. */
    public static ObjectNode unet() {
        return object("""
                {"_class_name": "UNet2DConditionModel", "_diffusers_version": "0.27.2", "act_fn": "silu",
                 "attention_head_dim": 8, "block_out_channels": [32, 64], "center_input_sample": false,
                 "cross_attention_dim": 32, "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
                 "downsample_padding": 1, "flip_sin_to_cos": true, "freq_shift": 0, "in_channels": 4, "layers_per_block": 1,
                 "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 16, "out_channels": 4, "sample_size": 16,
                 "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"], "use_linear_projection": false}""");
    }

    /** EulerDiscreteScheduler over SD's scaled-linear schedule, epsilon prediction. */
    public static ObjectNode scheduler() {
        return object("""
                {"_class_name": "EulerDiscreteScheduler", "_diffusers_version": "0.27.2", "beta_end": 0.012,
                 "beta_schedule": "scaled_linear", "beta_start": 0.00085, "interpolation_type": "linear",
                 "num_train_timesteps": 1000, "prediction_type": "epsilon", "steps_offset": 1, "timestep_spacing": "trailing",
                 "timestep_type": "discrete", "use_karras_sigmas": false, "rescale_betas_zero_snr": false}""");
    }

    /** TLD denoiser on the same 4x16x16 latents, conditioned on the text encoder's 32-wide projection. */
    public static ObjectNode denoiser() {
        return object("""
                {"image_size": 16, "noise_embed_dims": 64, "patch_size": 2, "embed_dim": 64, "n_layers": 3,
                 "text_emb_size": 32, "mlp_multiplier": 2, "n_channels": 4}""");
    }

    private static ObjectNode object(String json) {
        return (ObjectNode) Json.parse(json, "built-in config");
    }
}
