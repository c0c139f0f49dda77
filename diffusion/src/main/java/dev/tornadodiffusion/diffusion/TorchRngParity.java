package dev.tornadodiffusion.diffusion;

import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.StateDict;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Replays the {@code torch-rng} fixture ({@code outputs.safetensors}) with {@link TorchGenerator}. Tensor names say
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

    public static List<ParityCheck> run(StateDict outputs) {
        List<ParityCheck> checks = new ArrayList<>();
        for (String key : new TreeSet<>(outputs.keys())) checks.add(check(outputs, key));
        return checks;
    }

    private static ParityCheck check(StateDict outputs, String key) {
        Tensor expected = outputs.get(key);
        if (key.startsWith("mixed/")) return mixed(outputs, key, expected);
        if (key.startsWith("cache/")) return cache(outputs, key, expected);
        Matcher m = SEEDED.matcher(key);
        if (!m.matches()) throw new IllegalArgumentException(outputs.source() + ": tensor " + key + " does not name a torch call");
        TorchGenerator g = new TorchGenerator(Long.parseUnsignedLong(m.group(1)));
        String call = m.group(2);
        Matcher big = BIG.matcher(call);
        if (big.matches()) {
            Tensor x = g.randn(shape(big.group(1)));
            double[] v = ParityCheck.doubles(x);
            if (big.group(3) != null) return exact(key, Arrays.copyOf(v, Integer.parseInt(big.group(3))), expected);
            if (big.group(4) != null) return exact(key, Arrays.copyOfRange(v, v.length - Integer.parseInt(big.group(4)), v.length), expected);
            boolean squares = big.group(2).startsWith("sumsq");
            double sum = 0;
            for (double d : v) sum += squares ? d * d : d;
            return ParityCheck.compare(key, new double[]{sum}, expected, 0, 1e-12);
        }
        if (call.equals("generator_randn_first")) return exact(key, g.randn(expected.shape()), expected);
        if (call.equals("generator_randn_second")) {
            g.randn(outputs.get(key.replace("second", "first")).shape());
            return exact(key, g.randn(expected.shape()), expected);
        }
        if (call.startsWith("randn_float64_")) return exact(key, g.randn(DType.F64, expected.shape()), expected);
        if (call.startsWith("randn_")) return exact(key, g.randn(expected.shape()), expected);
        if (call.startsWith("rand_")) return exact(key, g.rand(expected.shape()), expected);
        throw new IllegalArgumentException(outputs.source() + ": tensor " + key + " does not name a torch call");
    }

    /** g = Generator().manual_seed(42); a = randn(5); b = rand(3); c = randn(20). */
    private static ParityCheck mixed(StateDict outputs, String key, Tensor expected) {
        TorchGenerator g = new TorchGenerator(42);
        Tensor a = g.randn(outputs.get("mixed/randn_a").shape());
        Tensor b = g.rand(outputs.get("mixed/rand_b").shape());
        Tensor c = g.randn(outputs.get("mixed/randn_c").shape());
        return exact(key, switch (key) {
            case "mixed/randn_a" -> a;
            case "mixed/rand_b" -> b;
            case "mixed/randn_c" -> c;
            default -> throw new IllegalArgumentException(outputs.source() + ": unknown tensor " + key);
        }, expected);
    }

    /** g = Generator().manual_seed(0); first = randn(3); second = randn(3); randn_6 from a fresh seed-0 generator. */
    private static ParityCheck cache(StateDict outputs, String key, Tensor expected) {
        if (key.equals("cache/randn_6")) return exact(key, new TorchGenerator(0).randn(expected.shape()), expected);
        TorchGenerator g = new TorchGenerator(0);
        Tensor first = g.randn(outputs.get("cache/randn_3_first").shape());
        Tensor second = g.randn(outputs.get("cache/randn_3_second").shape());
        return exact(key, switch (key) {
            case "cache/randn_3_first" -> first;
            case "cache/randn_3_second" -> second;
            default -> throw new IllegalArgumentException(outputs.source() + ": unknown tensor " + key);
        }, expected);
    }

    private static ParityCheck exact(String key, Tensor actual, Tensor expected) {
        return ParityCheck.compare(key, actual, expected, 0, 0);
    }

    private static ParityCheck exact(String key, double[] actual, Tensor expected) {
        return ParityCheck.compare(key, actual, expected, 0, 0);
    }

    private static int[] shape(String dims) {
        return Arrays.stream(dims.split("x")).mapToInt(Integer::parseInt).toArray();
    }
}
