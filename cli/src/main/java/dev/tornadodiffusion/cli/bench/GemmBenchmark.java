package dev.tornadodiffusion.cli.bench;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.DType;
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

/** Square matmul, and a linear layer with F16 weights as a UNet feed-forward uses it. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xss8m"})
public class GemmBenchmark {
    @Param({"1024", "2048"})
    public int n;

    private final Backend cpu = Backends.cpu();
    private Tensor a, b, x, w;

    @Setup
    public void setup() {
        a = BenchData.random(1, n, n);
        b = BenchData.random(2, n, n);
        x = BenchData.random(3, 4096, 320);
        w = BenchData.random(4, 1280, 320).to(DType.F16);
    }

    @Benchmark
    public Tensor matmul() { return cpu.matmul(a, b); }

    @Benchmark
    public Tensor linearF16() { return cpu.linear(x, w, null); }
}
