package dev.tornadodiffusion.tensor.tornado;

import uk.ac.manchester.tornado.api.types.arrays.TornadoNativeArray;

import java.util.List;

/**
 * Host-to-device and device-to-host copies of the plans' executions, as the backend asked TornadoVM for them
 * (buffers and bytes). With {@code -Dtd.tornado.stats} every execution prints one line and the JVM prints the
 * totals at exit.
 */
public final class Transfers {
    static final boolean PRINT = Boolean.getBoolean("td.tornado.stats");

    /** What one plan moves: on every execution, and on the first one only (constants, kernel geometry). */
    record PerPlan(int in, long inBytes, int out, long outBytes, int firstIn, long firstInBytes) {
        static PerPlan of(List<Object> every, List<Object> toHost, List<Object> first) {
            return new PerPlan(every.size(), bytes(every), toHost.size(), bytes(toHost), first.size(), bytes(first));
        }

        PerPlan plus(PerPlan o) {
            return new PerPlan(in + o.in, inBytes + o.inBytes, out + o.out, outBytes + o.outBytes, firstIn + o.firstIn, firstInBytes + o.firstInBytes);
        }

        private static long bytes(List<Object> buffers) {
            long n = 0;
            for (Object b : buffers) n += ((TornadoNativeArray) b).getNumBytesOfSegment();
            return n;
        }
    }

    /** Totals since the JVM started: plan executions, buffers and bytes copied to the device and back. */
    public record Totals(long executions, long toDevice, long toDeviceBytes, long toHost, long toHostBytes) {
        @Override
        public String toString() {
            return String.format("%d plan executions, %d copies to the device (%.3f MB), %d copies to the host (%.3f MB)",
                    executions, toDevice, toDeviceBytes / 1e6, toHost, toHostBytes / 1e6);
        }
    }

    private static long executions, toDevice, toDeviceBytes, toHost, toHostBytes;

    static {
        if (PRINT) Runtime.getRuntime().addShutdownHook(new Thread(() -> System.err.println("tornado transfers: " + totals())));
    }

    private Transfers() {}

    /** Counts one execution of a plan ({@code first}: its first, which also uploads the constants). */
    static void count(String label, PerPlan p, boolean first) {
        int in = p.in() + (first ? p.firstIn() : 0);
        long inBytes = p.inBytes() + (first ? p.firstInBytes() : 0);
        synchronized (Transfers.class) {
            executions++;
            toDevice += in;
            toDeviceBytes += inBytes;
            toHost += p.out();
            toHostBytes += p.outBytes();
        }
        if (PRINT) System.err.printf("tornado transfers: %s: %d in (%d B), %d out (%d B)%s%n", label, in, inBytes, p.out(), p.outBytes(), first ? " [first execution]" : "");
    }

    /** The totals so far. */
    public static synchronized Totals totals() { return new Totals(executions, toDevice, toDeviceBytes, toHost, toHostBytes); }
}
