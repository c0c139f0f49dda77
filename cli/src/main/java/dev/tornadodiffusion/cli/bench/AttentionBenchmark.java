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

/** Self-attention at the first UNet level of SD 1.x (4096 tokens, 8 heads of 40), and cross-attention to 77 text tokens. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xss8m"})
public class AttentionBenchmark {
    @Param({"4096"})
    public int tokens;

    @Param({"40"})
    public int dim;

    private static final int HEADS = 8;
    private final Backend cpu = Backends.cpu();
    private Tensor q, k, v, kText, vText;

    @Setup
    public void setup() {
        q = BenchData.random(1, 1, tokens, HEADS * dim);
        k = BenchData.random(2, 1, tokens, HEADS * dim);
        v = BenchData.random(3, 1, tokens, HEADS * dim);
        kText = BenchData.random(4, 1, 77, HEADS * dim);
        vText = BenchData.random(5, 1, 77, HEADS * dim);
    }

    @Benchmark
    public Tensor selfAttention() { return cpu.attention(q, k, v, HEADS, false); }

    @Benchmark
    public Tensor crossAttention() { return cpu.attention(q, kText, vText, HEADS, false); }
}
