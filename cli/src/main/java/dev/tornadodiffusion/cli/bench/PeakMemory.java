package dev.tornadodiffusion.cli.bench;

import com.sun.management.GarbageCollectionNotificationInfo;

import javax.management.NotificationEmitter;
import javax.management.NotificationListener;
import javax.management.openmbean.CompositeData;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Memory while a model runs, as the JVM and the OS see it:
 * <ul>
 *   <li>heap in use at the start, after a full GC: the model with any heap-resident weights;</li>
 *   <li>peak heap in use: the sum of the heap pools' peak usage (MemoryPoolMXBean), garbage not yet collected
 *       included, so an upper bound that depends on how lazily the collector runs;</li>
 *   <li>peak heap live after a GC: the most the heap held right after any collection (GC notifications), close
 *       to what the run really needs at once;</li>
 *   <li>the process's peak resident set (VmHWM in /proc/self/status, Linux): heap pages ever touched, mapped
 *       weight pages read, JVM code and metadata; it covers the whole process lifetime.</li>
 * </ul>
 */
public final class PeakMemory implements Recorder {
    private static final double GIB = 1L << 30;
    private final List<MemoryPoolMXBean> heapPools = ManagementFactory.getMemoryPoolMXBeans().stream()
            .filter(p -> p.getType() == MemoryType.HEAP).toList();
    private final Set<String> heapPoolNames = heapPools.stream().map(MemoryPoolMXBean::getName).collect(Collectors.toSet());
    private final long startUsed;
    private volatile long maxAfterGc;

    public PeakMemory() {
        System.gc();
        startUsed = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        NotificationListener listener = (n, handback) -> {
            if (!n.getType().equals(GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION)) return;
            GarbageCollectionNotificationInfo info = GarbageCollectionNotificationInfo.from((CompositeData) n.getUserData());
            long used = 0;
            for (var e : info.getGcInfo().getMemoryUsageAfterGc().entrySet())
                if (heapPoolNames.contains(e.getKey())) used += e.getValue().getUsed();
            synchronized (this) { maxAfterGc = Math.max(maxAfterGc, used); }
        };
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans())
            if (gc instanceof NotificationEmitter emitter) emitter.addNotificationListener(listener, null, null);
        reset();
    }

    @Override
    public synchronized void reset() {
        for (MemoryPoolMXBean p : heapPools) p.resetPeakUsage();
        maxAfterGc = 0;
    }

    @Override
    public void print(PrintStream out, int runs) {
        long peak = 0;
        for (MemoryPoolMXBean p : heapPools) {
            MemoryUsage u = p.getPeakUsage();
            if (u != null) peak += u.getUsed();
        }
        String live = maxAfterGc == 0 ? "no collection ran" : String.format(Locale.ROOT, "peak %.2f GiB live after a GC", maxAfterGc / GIB);
        out.printf(Locale.ROOT, "memory: heap %.2f GiB in use at the start (after a full GC); during the timed runs peak %.2f GiB in use "
                        + "(heap pool peaks, garbage included), %s; max heap %.1f GiB%n",
                startUsed / GIB, peak / GIB, live, Runtime.getRuntime().maxMemory() / GIB);
        long hwm = resident("VmHWM");
        if (hwm >= 0) out.printf(Locale.ROOT, "memory: process peak resident set (VmHWM, whole process so far) %.2f GiB%n", hwm / GIB);
    }

    /** VmHWM (peak) or VmRSS (now) of /proc/self/status in bytes, or -1 where there is none (not Linux). */
    public static long resident(String key) {
        return procValue(Path.of("/proc/self/status"), key + ":");
    }

    /** MemAvailable of /proc/meminfo in bytes: what the machine can give without swapping; -1 where there is none. */
    public static long availableMemory() {
        return procValue(Path.of("/proc/meminfo"), "MemAvailable:");
    }

    private static long procValue(Path file, String key) {
        try {
            for (String line : Files.readAllLines(file))
                if (line.startsWith(key)) return Long.parseLong(line.substring(key.length()).replace("kB", "").trim()) * 1024;
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}
