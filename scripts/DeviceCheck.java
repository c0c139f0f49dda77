import dev.tornadodiffusion.cli.Diffuse;
import org.junit.platform.engine.DiscoverySelector;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;

/**
 * The JVM of scripts/device-check.sh: runs its sections (JUnit test classes, ./diffuse commands) one after another
 * in ONE JVM, so TornadoVM starts once and its Graal compiler, which compiles every kernel, warms up once (a fresh
 * JVM runs it interpreted at first). Packed into the kit by scripts/device-kit.sh.
 *
 *   java ... DeviceCheck SECTIONS DEADLINE FIRST
 *
 * SECTIONS: one per line, {@code name|budget s|junit|Class Class#method ...} or {@code name|budget s|diffuse|args...};
 * DEADLINE: epoch second by which the run must end; FIRST: the index of the section to start with. A section whose
 * budget exceeds the time left is skipped with a line; one that overruns its budget ends the JVM (exit 124: a kernel
 * cannot be stopped), and the script starts another JVM from the next section. Marker lines for the script:
 * {@code #### BEGIN i name}, {@code #### END i ok|FAIL|TIME wall-seconds cpu-seconds name} (the JVM's CPU time: the
 * compile work, independent of the load on a shared machine), {@code #### SKIP i name: why}.
 */
public final class DeviceCheck {
    record Section(String name, int budget, String kind, List<String> args) {}

    public static void main(String[] argv) throws Exception {
        List<Section> sections = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of(argv[0]))) {
            if (line.isBlank()) continue;
            String[] f = line.split("\\|", 4);
            sections.add(new Section(f[0], Integer.parseInt(f[1]), f[2], f.length > 3 && !f[3].isBlank() ? Arrays.asList(f[3].trim().split(" +")) : List.of()));
        }
        long deadline = Long.parseLong(argv[1]) * 1000;
        for (int i = Integer.parseInt(argv[2]); i < sections.size(); i++) {
            Section s = sections.get(i);
            long left = (deadline - System.currentTimeMillis()) / 1000;
            if (s.budget > left) {
                mark("SKIP " + i + " " + s.name + ": needs " + s.budget + "s, " + Math.max(left, 0) + "s left");
                continue;
            }
            mark("BEGIN " + i + " " + s.name);
            long t0 = System.currentTimeMillis(), c0 = cpuNanos();
            int index = i;
            Thread watchdog = Thread.ofPlatform().daemon().start(() -> {
                try {
                    Thread.sleep(s.budget * 1000L);
                    mark("END " + index + " TIME " + s.budget + " " + (cpuNanos() - c0) / 1_000_000_000L + " " + s.name);
                    Runtime.getRuntime().halt(124);
                } catch (InterruptedException done) {
                    // the section ended in time
                }
            });
            boolean ok;
            try {
                ok = s.kind.equals("junit") ? junit(s.args) : Diffuse.run(s.args.toArray(String[]::new)) == 0;
            } catch (Throwable t) {
                t.printStackTrace();
                ok = false;
            }
            watchdog.interrupt();
            mark("END " + i + " " + (ok ? "ok" : "FAIL") + " " + (System.currentTimeMillis() - t0 + 500) / 1000 + " " + (cpuNanos() - c0 + 500_000_000L) / 1_000_000_000L + " " + s.name);
        }
        System.exit(0);
    }

    /** CPU time of the whole JVM (all threads: the kernels' compiler, the OpenCL driver's threads on a CPU device). */
    private static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    private static void mark(String line) {
        System.out.flush();
        System.err.flush();
        System.out.println("#### " + line);
        System.out.flush();
    }

    /** Runs test classes ({@code Class}) and methods ({@code Class#method}); prints each failure and the counts. */
    private static boolean junit(List<String> selectors) {
        List<DiscoverySelector> sel = new ArrayList<>();
        for (String s : selectors) sel.add(s.contains("#") ? selectMethod(s) : selectClass(s));
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener summary = new SummaryGeneratingListener();
        TestExecutionListener progress = new TestExecutionListener() {
            @Override
            public void executionFinished(TestIdentifier id, TestExecutionResult result) {
                if (!id.isTest()) return;
                String why = result.getThrowable().map(t -> ": " + t.toString().lines().findFirst().orElse("")).orElse("");
                System.out.println((result.getStatus() == TestExecutionResult.Status.SUCCESSFUL ? "  ✔ " : "  ✘ ") + id.getLegacyReportingName()
                        + " [" + id.getParentIdObject().map(p -> p.getLastSegment().getValue()).orElse("") + "]" + why);
            }
        };
        launcher.execute(LauncherDiscoveryRequestBuilder.request().selectors(sel).build(), summary, progress);
        TestExecutionSummary s = summary.getSummary();
        System.out.printf("tests: %d successful, %d failed, %d aborted, %d skipped%n", s.getTestsSucceededCount(), s.getTestsFailedCount(),
                s.getTestsAbortedCount(), s.getTestsSkippedCount());
        return s.getTestsFoundCount() > 0 && s.getTotalFailureCount() == 0 && s.getTestsAbortedCount() == 0;
    }
}
