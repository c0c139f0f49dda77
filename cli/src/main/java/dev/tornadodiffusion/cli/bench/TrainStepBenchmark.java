package dev.tornadodiffusion.cli.bench;

import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.nn.unet.UNet2DConditionConfig;
import dev.tornadodiffusion.nn.unet.UNet2DConditionModel;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.training.Losses;
import dev.tornadodiffusion.training.Parameters;
import dev.tornadodiffusion.training.Tape;
import dev.tornadodiffusion.weights.Json;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * One training step's compute for a small UNet2DConditionModel (the bundled tiny-sd's size: channels 32/64, attention
 * at 8x8 and in the middle, 4x16x16 latents, 24 text tokens of width 32): the forward pass alone, and forward + MSE
 * + backward on the autodiff tape with every parameter tracked.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xss8m", "-Xmx4g"})
public class TrainStepBenchmark {
    static final String UNET = """
            {"_class_name": "UNet2DConditionModel", "act_fn": "silu", "attention_head_dim": 8, "block_out_channels": [32, 64],
             "center_input_sample": false, "cross_attention_dim": 32, "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
             "downsample_padding": 1, "flip_sin_to_cos": true, "freq_shift": 0, "in_channels": 4, "layers_per_block": 1,
             "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 16, "out_channels": 4, "sample_size": 16,
             "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"], "use_linear_projection": false}""";

    @Param({"8"})
    public int batch;

    private Tape tape;
    private UNet2DConditionModel unet;
    private Tensor latents, timesteps, text, noise;

    @Setup
    public void setup() {
        tape = Tape.cpu();
        Parameters weights = new Parameters("random unet");
        unet = new UNet2DConditionModel(UNet2DConditionConfig.fromJson(Json.parse(UNET, "benchmark config"), "benchmark config"),
                new Params(weights, tape, weights.initializer(1)));
        tape.track(weights);
        latents = BenchData.random(1, batch, 4, 16, 16);
        noise = BenchData.random(2, batch, 4, 16, 16);
        text = BenchData.random(3, batch, 24, 32);
        float[] t = new float[batch];
        for (int i = 0; i < batch; i++) t[i] = 999f * i / batch;
        timesteps = Tensor.of(t, batch);
    }

    @Benchmark
    public Tensor forward() {
        try (var off = tape.noGrad()) {
            return unet.forward(latents, timesteps, text);
        }
    }

    @Benchmark
    public Tensor forwardBackward() {
        tape.zeroGrad();
        Tensor loss = Losses.mse(tape, unet.forward(latents, timesteps, text), noise);
        tape.backward(loss);
        return loss;
    }
}
