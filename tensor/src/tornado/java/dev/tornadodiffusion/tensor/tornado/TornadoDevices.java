package dev.tornadodiffusion.tensor.tornado;

import uk.ac.manchester.tornado.api.TornadoBackend;
import uk.ac.manchester.tornado.api.TornadoDeviceMap;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.common.TornadoDevice;

import java.util.ArrayList;
import java.util.List;

/** What TornadoVM sees: its backends and their devices. */
final class TornadoDevices {
    private TornadoDevices() {}

    static boolean any() {
        try {
            return TornadoExecutionPlan.getTornadoDeviceMap().getNumBackends() > 0;
        } catch (Throwable t) {
            return false;   // ExceptionInInitializerError, NoClassDefFoundError: TornadoVM cannot start here
        }
    }

    /** One line per device: "backend:device  name  type  memory", the default one marked. */
    static List<String> describe() {
        TornadoDeviceMap map = TornadoExecutionPlan.getTornadoDeviceMap();
        TornadoDevice def = TornadoExecutionPlan.DEFAULT_DEVICE;
        List<String> lines = new ArrayList<>();
        List<TornadoBackend> backends = map.getAllBackends();
        for (int b = 0; b < backends.size(); b++) {
            TornadoBackend be = backends.get(b);
            for (int d = 0; d < be.getNumDevices(); d++) {
                TornadoDevice dev = be.getDevice(d);
                boolean isDefault = dev.getDeviceName().equals(def.getDeviceName()) && dev.getBackendIndex() == def.getBackendIndex();
                lines.add(String.format("%d:%d  %-8s %-4s %s  %.1f GB global, %.1f GB max buffer, %d KB local%s",
                        b, d, be.getBackendType(), dev.getDeviceType(), dev.getPhysicalDevice().getDeviceName(),
                        dev.getMaxGlobalMemory() / 1e9, dev.getMaxAllocMemory() / 1e9, dev.getDeviceLocalMemorySize() / 1024,
                        isDefault ? "  (default: tornado.backend/tornado.device in tornado.properties)" : ""));
            }
        }
        return lines;
    }
}
