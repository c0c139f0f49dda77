package dev.tornadodiffusion.cli;

import com.sun.management.GarbageCollectionNotificationInfo;
import dev.tornadodiffusion.diffusion.pipelines.GenerationRequest;
import dev.tornadodiffusion.diffusion.pipelines.LoadOptions;
import dev.tornadodiffusion.diffusion.pipelines.Pipeline;
import dev.tornadodiffusion.diffusion.pipelines.Progress;
import dev.tornadodiffusion.tensor.Backends;

import javax.management.NotificationEmitter;
import javax.management.openmbean.CompositeData;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;

/**
 * Run in its own JVM by {@link MemoryEstimateTest}: one generation of MODEL at W x H x BATCH, printing the most live
 * heap data any full collection found during it, less what the loaded pipeline held before ("live-peak BYTES").
 * Run with a small young generation (-XX:+UseSerialGC -Xmn2m) and a tight heap, full collections are frequent, and
 * each one measures exactly what is reachable at that moment.
 */
public final class LivePeak {
    public static void main(String[] argv) throws Exception {
        Path model = Path.of(argv[0]);
        int w = Integer.parseInt(argv[1]), h = Integer.parseInt(argv[2]), batch = Integer.parseInt(argv[3]);
        try (Pipeline p = Pipeline.load(model, Backends.cpu(), LoadOptions.DEFAULT)) {
            System.gc();
            System.gc();
            long base = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
            long[] peak = {0}, fulls = {0};
            var heapPools = ManagementFactory.getMemoryPoolMXBeans().stream().filter(m -> m.getType() == java.lang.management.MemoryType.HEAP)
                    .map(java.lang.management.MemoryPoolMXBean::getName).collect(java.util.stream.Collectors.toSet());
            for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans())
                ((NotificationEmitter) gc).addNotificationListener((n, hb) -> {
                    if (!n.getType().equals(GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION)) return;
                    var info = GarbageCollectionNotificationInfo.from((CompositeData) n.getUserData());
                    if (!info.getGcAction().contains("major")) return;
                    long used = info.getGcInfo().getMemoryUsageAfterGc().entrySet().stream().filter(e -> heapPools.contains(e.getKey()))
                            .mapToLong(e -> e.getValue().getUsed()).sum();
                    synchronized (peak) { peak[0] = Math.max(peak[0], used); fulls[0]++; }
                }, null, null);
            p.generate(GenerationRequest.builder("a red circle").steps(2).seed(1).width(w).height(h).batch(batch).build(), Progress.NONE);
            Thread.sleep(200);   // notifications arrive on their own thread
            synchronized (peak) {
                System.out.println("live-peak " + Math.max(0, peak[0] - base) + " base " + base + " full-gcs " + fulls[0]);
            }
        }
    }
}
