package dev.tornadodiffusion.parity;

import dev.tornadodiffusion.diffusion.TorchGenerator;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Compare;
import dev.tornadodiffusion.tensor.Compare.Check;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Replays the {@code torch-rng} case ({@code outputs.safetensors}) with {@link TorchGenerator}. Tensor names say
 * what torch call made them: {@code seed<S>/randn_<AxBxC>} and {@code rand_...} (fresh {@code manual_seed(S)}),
 * {@code randn_float64_<N>}, {@code randn_<shape>_first<K>/last<K>/sum_float64/sumsq_float64} (slices and float64
 * sums of one big draw), {@code generator_randn_first/second} (two draws from one generator), and the fixed
 * {@code mixed/*} (seed 42: randn a, rand b, randn c) and {@code cache/*} (seed 0: randn 3, randn 3 vs randn 6)
 * sequences. Every element must match exactly; the float64 sums to 1e-12 relative.
 */
public final class TorchRngParity {
    private static final Pattern SEEDED = Pattern.compile("seed(\\d+)/(.+)");
    private static final Pattern BIG = Pattern.compile("randn_([0-9x]+)_(first(\\d+)|last(\\d+)|sum_float64|sumsq_float64)");

    private TorchRngParity() {}

    /** One check per tensor of the case's outputs.safetensors. */
    public static List<Check> run(Path caseDir, Backend unused) throws IOException {
        try (ParityCase c = ParityCase.outputsOnly(caseDir, "outputs.safetensors")) {
            for (String key : new TreeSet<>(c.outputNames())) c.add(check(c, key));
            return c.checks();
        }
    }

    private static Check check(ParityCase outputs, String key) {
        Tensor expected = outputs.expected(key);
        if (key.startsWith("mixed/")) return mixed(outputs, key, expected);
        if (key.startsWith("cache/")) return cache(outputs, key, expected);
        Matcher m = SEEDED.matcher(key);
        if (!m.matches()) throw new IllegalArgumentException(outputs.dir + ": tensor " + key + " does not name a torch call");
        TorchGenerator g = new TorchGenerator(Long.parseUnsignedLong(m.group(1)));
        String call = m.group(2);
        Matcher big = BIG.matcher(call);
        if (big.matches()) {
            Tensor x = g.randn(shape(big.group(1)));
            Tensor flat = x.reshape((int) x.numel());
            if (big.group(3) != null) return Compare.exact(key, flat.narrow(0, 0, Integer.parseInt(big.group(3))), expected);
            if (big.group(4) != null) {
                int k = Integer.parseInt(big.group(4));
                return Compare.exact(key, flat.narrow(0, flat.dim(0) - k, k), expected);
            }
            boolean squares = big.group(2).startsWith("sumsq");
            double sum = 0;
            for (double d : x.toDoubleArray()) sum += squares ? d * d : d;
            return Compare.mixed(key, Tensor.wrap(MemorySegment.ofArray(new double[]{sum}), DType.F64), expected, 0, 1e-12);
        }
        if (call.equals("generator_randn_first")) return Compare.exact(key, g.randn(expected.shape()), expected);
        if (call.equals("generator_randn_second")) {
            g.randn(outputs.expected(key.replace("second", "first")).shape());
            return Compare.exact(key, g.randn(expected.shape()), expected);
        }
        if (call.startsWith("randn_float64_")) return Compare.exact(key, g.randn(DType.F64, expected.shape()), expected);
        if (call.startsWith("randn_")) return Compare.exact(key, g.randn(expected.shape()), expected);
        if (call.startsWith("rand_")) return Compare.exact(key, g.rand(expected.shape()), expected);
        throw new IllegalArgumentException(outputs.dir + ": tensor " + key + " does not name a torch call");
    }

    /** g = Generator().manual_seed(42); a = randn(5); b = rand(3); c = randn(20). */
    private static Check mixed(ParityCase outputs, String key, Tensor expected) {
        TorchGenerator g = new TorchGenerator(42);
        Tensor a = g.randn(outputs.expected("mixed/randn_a").shape());
        Tensor b = g.rand(outputs.expected("mixed/rand_b").shape());
        Tensor c = g.randn(outputs.expected("mixed/randn_c").shape());
        return Compare.exact(key, switch (key) {
            case "mixed/randn_a" -> a;
            case "mixed/rand_b" -> b;
            case "mixed/randn_c" -> c;
            default -> throw new IllegalArgumentException(outputs.dir + ": unknown tensor " + key);
        }, expected);
    }

    /** g = Generator().manual_seed(0); first = randn(3); second = randn(3); randn_6 from a fresh seed-0 generator. */
    private static Check cache(ParityCase outputs, String key, Tensor expected) {
        if (key.equals("cache/randn_6")) return Compare.exact(key, new TorchGenerator(0).randn(expected.shape()), expected);
        TorchGenerator g = new TorchGenerator(0);
        Tensor first = g.randn(outputs.expected("cache/randn_3_first").shape());
        Tensor second = g.randn(outputs.expected("cache/randn_3_second").shape());
        return Compare.exact(key, switch (key) {
            case "cache/randn_3_first" -> first;
            case "cache/randn_3_second" -> second;
            default -> throw new IllegalArgumentException(outputs.dir + ": unknown tensor " + key);
        }, expected);
    }

    private static int[] shape(String dims) {
        return Arrays.stream(dims.split("x")).mapToInt(Integer::parseInt).toArray();
    }
}
