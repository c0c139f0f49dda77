package dev.tornadodiffusion.tensor.tornado;

import uk.ac.manchester.tornado.api.TornadoBackend;
import uk.ac.manchester.tornado.api.TornadoDeviceMap;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.TornadoVMBackendType;

import java.util.ArrayList;
import java.util.Arrays;
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

    /**
     * Whether {@code device} stores and converts half floats: every PTX device (fp16 loads and conversions are in
     * every PTX ISA TornadoVM targets); an OpenCL device that lists cl_khr_fp16; no other.
     */
    static boolean fp16(TornadoDevice device) {
        TornadoVMBackendType type = device.getTornadoVMBackend();
        return fp16(type, type == TornadoVMBackendType.OPENCL ? openclExtensions(device) : "");
    }

    static boolean fp16(TornadoVMBackendType type, String openclExtensions) {
        return switch (type) {
            case PTX -> true;
            case OPENCL -> Arrays.asList(openclExtensions.trim().split("\\s+")).contains("cl_khr_fp16");
            default -> false;
        };
    }

    /** An OpenCL device's extensions (OCLTargetDevice.getDeviceExtensions: a driver class, outside TornadoVM's API); "" if unreadable. */
    static String openclExtensions(TornadoDevice device) {
        Object physical = device.getPhysicalDevice();
        try {
            return String.valueOf(physical.getClass().getMethod("getDeviceExtensions").invoke(physical));
        } catch (ReflectiveOperationException | RuntimeException e) {
            return "";
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
