package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.diffusion.NoiseSource;
import dev.tornadodiffusion.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * A diffusers (v0.27.2) noise scheduler. Usage mirrors a diffusers denoising loop:
 * <pre>{@code
 * Scheduler s = Scheduler.fromConfig(Path.of("scheduler/scheduler_config.json"));
 * s.setTimesteps(20);
 * Tensor latents = scale(generator.randn(shape), s.initNoiseSigma());
 * for (int i = 0; i < s.numTimesteps(); i++) {
 *     double t = s.timestep(i);
 *     Tensor modelOutput = unet(s.scaleModelInput(latents, t), t, ...);
 *     latents = s.step(modelOutput, t, latents, generator).prevSample();
 * }
 * }</pre>
 * Timesteps are passed by value, as elements of {@link #timesteps()}; schedulers that keep a step index find it
 * from the first value they see, like diffusers' {@code _init_step_index}. Instances hold per-run state and are
 * not thread-safe.
 */
public interface Scheduler {

    /** The scheduler named by {@code _class_name} in a {@code scheduler_config.json}. */
    static Scheduler fromConfig(Path configFile) throws IOException {
        return fromConfig(SchedulerConfig.read(configFile));
    }

    /** The scheduler named by the config's {@code _class_name}. */
    static Scheduler fromConfig(SchedulerConfig config) {
        String name = config.className();
        if (name == null) throw config.invalid("_class_name", "is missing (it names the scheduler class)");
        return fromConfig(name, config);
    }

    /** Scheduler {@code className} built from {@code config} ({@code SomeScheduler.from_config(other.config)}). */
    static Scheduler fromConfig(String className, SchedulerConfig config) {
        return switch (className) {
            case "DDPMScheduler" -> new DDPMScheduler(config);
            case "DDIMScheduler" -> new DDIMScheduler(config);
            case "EulerDiscreteScheduler" -> new EulerDiscreteScheduler(config);
            case "EulerAncestralDiscreteScheduler" -> new EulerAncestralDiscreteScheduler(config);
            case "HeunDiscreteScheduler" -> new HeunDiscreteScheduler(config);
            case "KDPM2DiscreteScheduler" -> new KDPM2DiscreteScheduler(config);
            case "KDPM2AncestralDiscreteScheduler" -> new KDPM2AncestralDiscreteScheduler(config);
            case "DPMSolverMultistepScheduler" -> new DPMSolverMultistepScheduler(config);
            case "DPMSolverSinglestepScheduler" -> new DPMSolverSinglestepScheduler(config);
            case "DEISMultistepScheduler" -> new DEISMultistepScheduler(config);
            case "UniPCMultistepScheduler" -> new UniPCMultistepScheduler(config);
            case "LCMScheduler" -> new LCMScheduler(config);
            case "TCDScheduler" -> new TCDScheduler(config);
            case "PNDMScheduler" -> new PNDMScheduler(config);
            default -> throw new IllegalArgumentException(config.source() + ": scheduler \"" + className + "\" is not supported"
                    + " (supported: " + String.join(", ", CLASS_NAMES) + ")");
        };
    }

    /** The diffusers scheduler classes {@link #fromConfig} builds. */
    List<String> CLASS_NAMES = List.of("DDPMScheduler", "DDIMScheduler", "EulerDiscreteScheduler",
            "EulerAncestralDiscreteScheduler", "HeunDiscreteScheduler", "KDPM2DiscreteScheduler", "KDPM2AncestralDiscreteScheduler",
            "DPMSolverMultistepScheduler", "DPMSolverSinglestepScheduler", "DEISMultistepScheduler", "UniPCMultistepScheduler",
            "LCMScheduler", "TCDScheduler", "PNDMScheduler");

    /** The diffusers class name, e.g. {@code "EulerDiscreteScheduler"}. */
    String className();

    SchedulerConfig config();

    /** Model evaluations per step: 2 for Heun and KDPM2 (their timesteps hold each step twice but the first), else 1. */
    int order();

    /** {@code set_timesteps(num_inference_steps)}: computes the schedule and resets the per-run state. */
    void setTimesteps(int numInferenceSteps);

    /** The schedule the model is called with, in diffusers' dtype: I64 (DDPM, DDIM, PNDM, DPM-Solver, UniPC, LCM) or F32 (Euler, Heun; F64 for Heun with Karras sigmas). */
    Tensor timesteps();

    int numTimesteps();

    /** Element {@code i} of {@link #timesteps()}, exactly. */
    double timestep(int i);

    /** Standard deviation of the initial noise: the pipeline multiplies its starting latents by it. */
    float initNoiseSigma();

    /** {@code scale_model_input}: the model input for this timestep (a new tensor, or {@code sample} itself). */
    Tensor scaleModelInput(Tensor sample, double timestep);

    /**
     * One denoising step from {@code timestep} given the model output. Stochastic schedulers draw their noise from
     * {@code generator} exactly when diffusers does (so the stream advances identically); deterministic ones ignore it
     * and accept null.
     */
    SchedulerOutput step(Tensor modelOutput, double timestep, Tensor sample, NoiseSource generator);

    /** {@code add_noise}: {@code original} noised to each batch element's timestep ({@code timesteps} has one per batch element). */
    Tensor addNoise(Tensor original, Tensor noise, Tensor timesteps);

    /** {@code set_begin_index}: the step index to start from (img2img). No effect on schedulers without a step index. */
    void setBeginIndex(int beginIndex);

    /** {@code betas}, float32 [num_train_timesteps]. */
    float[] betas();

    /** {@code alphas_cumprod}, float32 [num_train_timesteps]. */
    float[] alphasCumprod();

    /** {@code sigmas} (ending with the final sigma) for schedulers that work in sigma space. */
    default Optional<Tensor> sigmas() {
        return Optional.empty();
    }

    /**
     * {@code StableDiffusionImg2ImgPipeline.get_timesteps}: after {@link #setTimesteps}, the tail of the schedule that
     * {@code strength} keeps ({@code init_timestep = min(int(steps * strength), steps)}), and the begin index set to
     * where it starts.
     */
    default Tensor img2imgTimesteps(int numInferenceSteps, double strength) {
        int tStart = img2imgStart(numInferenceSteps, strength);
        setBeginIndex(tStart * order());
        return tail(timesteps(), tStart * order());
    }

    /**
     * {@code StableDiffusionXLImg2ImgPipeline.get_timesteps} (which sets no begin index): with {@code denoisingStart}
     * NaN, the tail kept by {@code strength}; otherwise the timesteps below the cutoff
     * {@code round(T - denoising_start * T)} (one more for second-order schedulers if the count is even, so the run
     * ends after a full step).
     */
    default Tensor img2imgTimestepsXL(int numInferenceSteps, double strength, double denoisingStart) {
        if (Double.isNaN(denoisingStart)) return tail(timesteps(), img2imgStart(numInferenceSteps, strength) * order());
        long cutoff = denoisingCutoff(denoisingStart);
        int n = 0;
        for (int i = 0; i < numTimesteps(); i++) if (timestep(i) < cutoff) n++;
        if (order() == 2 && n % 2 == 0) n++;
        // timesteps[-n:], where n == 0 keeps everything as Python's [-0:] does
        return tail(timesteps(), n == 0 ? 0 : Math.max(0, numTimesteps() - n));
    }

    /**
     * The SDXL {@code denoising_end} cut: the leading timesteps {@code >= round(T - denoising_end * T)} of
     * {@code timesteps}.
     */
    default Tensor denoisingEndTimesteps(Tensor timesteps, double denoisingEnd) {
        long cutoff = denoisingCutoff(denoisingEnd);
        int n = 0;
        for (int i = 0; i < timesteps.numel(); i++) if (exactValue(timesteps, i) >= cutoff) n++;
        return timesteps.narrow(0, 0, n);
    }

    private int img2imgStart(int numInferenceSteps, double strength) {
        int initTimestep = Math.min((int) (numInferenceSteps * strength), numInferenceSteps);
        return Math.max(numInferenceSteps - initTimestep, 0);
    }

    private long denoisingCutoff(double fraction) {
        int t = config().getInt("num_train_timesteps", 1000);
        return (long) Math.rint(t - fraction * t);
    }

    private static Tensor tail(Tensor t, int start) {
        int n = (int) t.numel();
        int s = Math.min(start, n);
        return t.narrow(0, s, n - s);
    }

    /** Element {@code i} of a 1-D timestep tensor without rounding through float (I64 and F64 included). */
    public static double exactValue(Tensor timesteps, int i) {
        return switch (timesteps.dtype()) {
            case I64, I32, I16, I8, U8 -> timesteps.getLongFlat(i);
            case F64 -> timesteps.segment().getAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, timesteps.indexOfFlat(i));
            default -> timesteps.getFlat(i);
        };
    }
}
