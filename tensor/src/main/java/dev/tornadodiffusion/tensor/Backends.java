package dev.tornadodiffusion.tensor;

import dev.tornadodiffusion.tensor.cpu.CpuBackend;

import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/** Finds a backend by name: "cpu" is built in, others come through {@link BackendProvider}. */
public final class Backends {
    private static volatile Backend cpu;

    private Backends() {}

    public static Backend cpu() {
        if (cpu == null) synchronized (Backends.class) { if (cpu == null) cpu = new CpuBackend(); }
        return cpu;
    }

    /** The backend called {@code name}; a missing or unavailable one is an error that says what to do. */
    public static Backend get(String name) {
        if (name.equals("cpu")) return cpu();
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
            if (!p.name().equals(name)) continue;
            if (!p.available()) throw new IllegalStateException("device '" + name + "' is not available: " + p.unavailableReason());
            return p.create();
        }
        if (name.equals("tornado"))
            throw new IllegalStateException("device 'tornado' needs the TornadoVM backend: install a TornadoVM SDK (JDK 25, OpenCL or PTX) at /opt/tornadovm or set TORNADOVM_HOME, then run through ./diffuse, which builds the backend and adds the SDK's JVM options");
        throw new IllegalArgumentException("unknown device '" + name + "' (known: " + String.join(", ", names()) + ")");
    }

    public static List<String> names() {
        List<String> n = new ArrayList<>(List.of("cpu"));
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) n.add(p.name());
        return n;
    }
}
