package dev.tornadodiffusion.cli.bench;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;

import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Where a run's time goes: a proxy around a {@link Backend} times every operation the model calls (by name, and by
 * name and argument shapes) and counts the multiply-add work of matmul, linear, conv2d and attention. Operations a
 * backend runs inside another (linear's GEMM) are not seen separately; time spent outside backend calls (views,
 * scheduler arithmetic, allocation of inputs) is the run time minus the sum. Single-threaded callers only.
 */
public final class OpProfile implements Recorder {
    private static final int TOP_SHAPES = 15;

    private static final class Stat {
        long calls, nanos;
        double flops;
    }

    private final Backend target, proxy;
    private final Map<String, Stat> byOp = new HashMap<>(), byShape = new HashMap<>();
    private long startNanos;

    public OpProfile(Backend target) {
        this.target = target;
        this.proxy = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[]{Backend.class}, (self, m, args) -> call(m, args));
        reset();
    }

    /** The backend to give the model: every call goes through the profile. */
    public Backend backend() { return proxy; }

    private Object call(Method m, Object[] args) throws Throwable {
        // run/runAll wrap a whole forward whose operations are timed one by one: counting them too would count everything twice.
        if (m.getDeclaringClass() == Object.class || Set.of("name", "run", "runAll").contains(m.getName())) return invoke(m, args);
        long t0 = System.nanoTime();
        Object result = invoke(m, args);
        long dt = System.nanoTime() - t0;
        double flops = result instanceof Tensor out ? flops(m.getName(), args, out) : 0;
        add(byOp, m.getName(), dt, flops);
        add(byShape, m.getName() + " " + describe(args), dt, flops);
        return result;
    }

    private Object invoke(Method m, Object[] args) throws Throwable {
        try {
            return m.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    private static void add(Map<String, Stat> map, String key, long nanos, double flops) {
        Stat s = map.computeIfAbsent(key, k -> new Stat());
        s.calls++;
        s.nanos += nanos;
        s.flops += flops;
    }

    /** Two flops per multiply-add, as the kernel benchmarks count them. */
    private static double flops(String op, Object[] a, Tensor out) {
        return switch (op) {
            case "matmul" -> 2.0 * out.numel() * ((Tensor) a[0]).dim(-1);
            case "linear" -> 2.0 * out.numel() * ((Tensor) a[1]).dim(1);
            case "conv2d" -> {
                Tensor w = (Tensor) a[1];
                yield 2.0 * out.numel() * w.dim(1) * w.dim(2) * w.dim(3);
            }
            case "attention" -> {
                Tensor q = (Tensor) a[0], k = (Tensor) a[1], v = (Tensor) a[2];
                double pairs = (double) q.dim(0) * q.dim(1) * k.dim(1) * ((Boolean) a[4] ? 0.5 : 1);
                yield 2.0 * pairs * (q.dim(2) + v.dim(2));
            }
            default -> 0;
        };
    }

    /** Tensor arguments as their shapes (with the dtype when not F32), other arguments as their values. */
    private static String describe(Object[] args) {
        List<String> parts = new ArrayList<>();
        for (Object a : args == null ? new Object[0] : args) {
            if (a instanceof Tensor t) parts.add(Arrays.toString(t.shape()) + (t.dtype() == DType.F32 ? "" : t.dtype().name()));
            else if (a instanceof Tensor[] ts) parts.add(ts.length + " tensors");
            else parts.add(String.valueOf(a));
        }
        return String.join(" ", parts);
    }

    @Override
    public void reset() {
        byOp.clear();
        byShape.clear();
        startNanos = System.nanoTime();
    }

    @Override
    public void print(PrintStream out, int runs) {
        double runMs = (System.nanoTime() - startNanos) / 1e6 / runs, opMs = 0;
        out.printf(Locale.ROOT, "profile: per run, %d timed runs, %.1f ms per run (wall time since the warm-up)%n", runs, runMs);
        out.printf(Locale.ROOT, "  %-20s %9s %11s %7s %11s %9s%n", "op", "calls", "ms", "%", "GFLOP", "GFLOP/s");
        for (Map.Entry<String, Stat> e : sorted(byOp)) {
            opMs += e.getValue().nanos / 1e6 / runs;
            row(out, e.getKey(), e.getValue(), runs, runMs, 20);
        }
        out.printf(Locale.ROOT, "  %-20s %9s %11.1f %6.1f%%%n", "(outside backend)", "", runMs - opMs, 100 * (runMs - opMs) / runMs);
        out.printf(Locale.ROOT, "profile: the %d costliest calls by shape%n", TOP_SHAPES);
        sorted(byShape).stream().limit(TOP_SHAPES).forEach(e -> row(out, e.getKey(), e.getValue(), runs, runMs, 70));
    }

    private static List<Map.Entry<String, Stat>> sorted(Map<String, Stat> map) {
        return map.entrySet().stream().sorted(Comparator.comparingLong((Map.Entry<String, Stat> e) -> e.getValue().nanos).reversed()).toList();
    }

    private static void row(PrintStream out, String name, Stat s, int runs, double runMs, int width) {
        double ms = s.nanos / 1e6 / runs, gflop = s.flops / 1e9 / runs;
        String rate = s.flops > 0 ? String.format(Locale.ROOT, "%9.1f", gflop / (ms / 1e3)) : "";
        out.printf(Locale.ROOT, "  %-" + width + "s %9d %11.1f %6.1f%% %11s %s%n", name, s.calls / runs, ms, 100 * ms / runMs,
                s.flops > 0 ? String.format(Locale.ROOT, "%.2f", gflop) : "", rate);
    }
}
