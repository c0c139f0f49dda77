package dev.tornadodiffusion.parity;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.weights.JsonConfig;
import dev.tornadodiffusion.nn.clip.ClipTextConfig;
import dev.tornadodiffusion.nn.clip.ClipTextModel;
import dev.tornadodiffusion.nn.unet.UNet2DConditionConfig;
import dev.tornadodiffusion.nn.unet.UNet2DConditionModel;
import dev.tornadodiffusion.nn.vae.AutoencoderKL;
import dev.tornadodiffusion.nn.vae.AutoencoderKLConfig;
import dev.tornadodiffusion.nn.vae.DiagonalGaussianDistribution;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.StateDict;


/**
 * The models of the file-format cases, built from a config and weights from any source, and run on the case inputs
 * ({@code <model>/...} names) for every reference output under an output prefix, as the source cases call them.
 */
final class Runs {
    private Runs() {}

    static UNet2DConditionModel unet(JsonNode config, StateDict weights, Backend be) {
        return UNet2DConditionModel.load(UNet2DConditionConfig.fromJson(config, weights.source() + " config"), weights, be);
    }

    static AutoencoderKL vae(JsonNode config, StateDict weights, Backend be) {
        return AutoencoderKL.load(AutoencoderKLConfig.from(new JsonConfig(config, weights.source() + " config")), weights, be);
    }

    /** With projection when the config's architectures name CLIPTextModelWithProjection, as the pipelines load it. */
    static ClipTextModel textEncoder(JsonNode config, StateDict weights, Backend be) {
        boolean projection = false;
        for (JsonNode a : config.path("architectures")) projection |= a.asText().equals("CLIPTextModelWithProjection");
        return ClipTextModel.load(ClipTextConfig.from(new JsonConfig(config, weights.source() + " config")), weights, be, projection);
    }

    /** {@code sample} (scalar timestep) and {@code sample_timesteps_batch} under {@code out}; SDXL conditioning when the case has it. */
    static void unet(FormatChecks f, ParityCase c, String label, UNet2DConditionModel unet, String out) {
        Tensor sample = c.input("unet/sample"), context = c.input("unet/encoder_hidden_states");
        Tensor textEmbeds = optional(c, "unet/text_embeds"), timeIds = optional(c, "unet/time_ids");
        for (String name : f.outputs(out)) {
            switch (name.substring(out.length())) {
                case "sample" -> f.absolute(label, name, unet.forward(sample, c.input("unet/timestep"), context, textEmbeds, timeIds));
                case "sample_timesteps_batch" -> f.absolute(label, name, unet.forward(sample, c.input("unet/timesteps_batch"), context, textEmbeds, timeIds));
                default -> { }   // left for the "not compared" check
            }
        }
    }

    /** Posterior mean / logvar of {@code image}, decode of {@code latent}, and the same for the {@code nonsquare/} inputs. */
    static void vae(FormatChecks f, ParityCase c, String label, AutoencoderKL vae) {
        for (String variant : new String[]{"", "nonsquare/"}) {
            String suffix = variant.isEmpty() ? "" : "_nonsquare", out = "vae/" + variant;
            DiagonalGaussianDistribution posterior = null;
            for (String name : f.outputs(out)) {
                String leaf = name.substring(out.length());
                if (leaf.startsWith("latent_dist.") && posterior == null) posterior = vae.encode(c.input("vae/image" + suffix));
                switch (leaf) {
                    case "latent_dist.mean" -> f.absolute(label, name, posterior.mean);
                    case "latent_dist.logvar" -> f.absolute(label, name, posterior.logvar);
                    case "latent_dist.std" -> f.absolute(label, name, posterior.std);
                    case "decode.sample" -> f.absolute(label, name, vae.decode(c.input("vae/latent" + suffix)));
                    default -> { }
                }
            }
        }
    }

    /**
     * The text encoder on {@code inputIds}: last_hidden_state, pooler_output, penultimate_hidden_state (hidden_states[-2],
     * what SDXL uses), text_embeds and hidden_states.N, for the outputs directly under {@code out}.
     */
    static void textEncoder(FormatChecks f, String label, ClipTextModel model, Tensor inputIds, String out) {
        ClipTextModel.Output o = null;
        for (String name : f.outputs(out)) {
            String leaf = name.substring(out.length());
            if (leaf.contains("/")) continue;
            if (o == null) o = model.forward(inputIds);
            Tensor t = switch (leaf) {
                case "last_hidden_state" -> o.last_hidden_state();
                case "pooler_output" -> o.pooler_output();
                case "penultimate_hidden_state" -> o.hiddenState(-2);
                case "text_embeds" -> o.text_embeds();
                default -> leaf.matches("hidden_states\\.\\d+") ? o.hiddenState(Integer.parseInt(leaf.substring("hidden_states.".length()))) : null;
            };
            if (t != null) f.absolute(label, name, t);
        }
    }

    private static Tensor optional(ParityCase c, String name) {
        return c.inputNames().contains(name) ? c.input(name) : null;
    }
}
