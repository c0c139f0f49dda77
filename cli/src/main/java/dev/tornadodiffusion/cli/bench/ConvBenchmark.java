package dev.tornadodiffusion.cli.bench;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Tensor;
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

/** UNet-shaped convolutions: 3x3 at the first level of SD 1.x (batch 2 for guidance), its 1x1 shortcut, a depthwise 3x3. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xss8m"})
public class ConvBenchmark {
    @Param({"320"})
    public int channels;

    @Param({"64"})
    public int size;

    private final Backend cpu = Backends.cpu();
    private Tensor x, w3, w1, wd, bias;

    @Setup
    public void setup() {
        x = BenchData.random(1, 2, channels, size, size);
        w3 = BenchData.random(2, channels, channels, 3, 3);
        w1 = BenchData.random(3, channels, channels, 1, 1);
        wd = BenchData.random(4, channels, 1, 3, 3);
        bias = BenchData.random(5, channels);
    }

    @Benchmark
    public Tensor conv3x3() { return cpu.conv2d(x, w3, bias, 1, 1, 1); }

    @Benchmark
    public Tensor conv1x1() { return cpu.conv2d(x, w1, bias, 1, 0, 1); }

    @Benchmark
    public Tensor depthwise3x3() { return cpu.conv2d(x, wd, bias, 1, 1, channels); }
}
