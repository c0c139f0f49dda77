package dev.tornadodiffusion.tensor.tornado;

import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.BackendProvider;

import java.util.List;

/**
 * Finds the TornadoVM backend ("tornado") for {@code Backends.get}. Touches no TornadoVM class before it knows
 * the JVM was started with TornadoVM's options: without them the first use of TornadoVM fails, and that
 * failure would poison its classes for the rest of the JVM.
 */
public final class TornadoBackendProvider implements BackendProvider {
    private static Boolean available;
    private static TornadoBackend backend;

    @Override public String name() { return "tornado"; }

    @Override
    public synchronized boolean available() {
        if (available == null) {
            TornadoSettings.get();
            available = System.getProperty("tornado.load.api.implementation") != null && TornadoDevices.any();
        }
        return available;
    }

    @Override
    public String unavailableReason() {
        if (System.getProperty("tornado.load.api.implementation") == null)
            return "this JVM was started without TornadoVM: install a TornadoVM SDK for JDK 25 (OpenCL or PTX backend), set TORNADOVM_HOME to it"
                    + " and run through ./diffuse (or java @$TORNADOVM_HOME/tornado-argfile ...)";
        return "TornadoVM is installed but finds no device: check the drivers with 'tornado --devices'";
    }

    /** The one backend of this JVM (the device and its compiled plans are shared by everything that runs on it). */
    @Override
    public synchronized Backend create() {
        if (!available()) throw new IllegalStateException("device 'tornado' is not available: " + unavailableReason());
        if (backend == null) backend = new TornadoBackend();
        return backend;
    }

    @Override
    public List<String> devices() {
        return available() ? TornadoDevices.describe() : List.of(unavailableReason());
    }
}
