package dev.tornadodiffusion.cli;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The shell launchers ({@code ./diffuse}, {@code examples/run} and the scripts they source), run by bash in a copy of
 * the checkout whose JDK, Maven Wrapper and TornadoVM SDK are stand-ins: the fake {@code java} prints its arguments
 * (one a line) and writes the JDK's incubator warning first on stderr; the fake {@code mvnw} logs its arguments.
 */
class LauncherTest {
    static final Path REPO = Path.of("").toAbsolutePath().getParent();
    static final String WARNING = "WARNING: Using incubator modules: jdk.incubator.vector";

    @TempDir Path tmp;
    Path root, jdk, sdk;

    record Run(int exit, List<String> javaArgs, String stderr) {
        boolean has(String arg) { return javaArgs.contains(arg); }
    }

    @BeforeEach
    void sandbox() throws IOException {
        root = tmp.resolve("checkout");
        for (String f : List.of("diffuse", "examples/run", "scripts/jdk.sh", "scripts/tornado.sh", "scripts/build.sh", "scripts/launch.sh")) {
            Files.createDirectories(root.resolve(f).getParent());
            Files.copy(REPO.resolve(f), root.resolve(f));
        }
        executable(root.resolve("mvnw"), """
                #!/usr/bin/env bash
                echo "$*" >> mvnw.log
                mkdir -p cli/target examples/target && touch cli/target/classpath.txt examples/target/classpath.txt
                """);
        Path example = root.resolve("examples/target/classes/dev/tornadodiffusion/examples/EmbedExample.class");
        Files.createDirectories(example.getParent());
        Files.createFile(example);
        jdk = tmp.resolve("jdk");
        executable(jdk.resolve("bin/javac"), "#!/bin/sh\n");
        executable(jdk.resolve("bin/java"), """
                #!/usr/bin/env bash
                case "$*" in *-XshowSettings*) echo "    java.specification.version = 25" >&2; exit 0 ;; esac
                case "$*" in *cli.HeapSize*) echo "-Xmx1g"; exit 0 ;; esac
                if [ -n "${FAKE_JAVA_WAITS:-}" ]; then echo $$ > "$FAKE_JAVA_WAITS"; exec sleep 60; fi
                echo "%s" >&2
                for a in "$@"; do echo "$a"; done
                echo "a line of the program's own" >&2
                exit 3
                """.formatted(WARNING));
        sdk = tmp.resolve("tornadovm");
        Files.createDirectories(sdk);
        Files.writeString(sdk.resolve("tornado-argfile"), "--enable-preview\n");
    }

    private static void executable(Path file, String text) throws IOException {
        Files.createDirectories(file.getParent());
        Files.writeString(file, text);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    private Run run(Map<String, String> env, Path script, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("bash", script.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(tmp.toFile());
        pb.environment().put("JAVA_HOME", jdk.toString());
        pb.environment().put("TORNADOVM_HOME", sdk.toString());
        pb.environment().remove("TD_JAVA_OPTS");
        pb.environment().putAll(env);
        Path out = tmp.resolve("out.txt"), err = tmp.resolve("err.txt");
        pb.redirectOutput(out.toFile()).redirectError(err.toFile());
        Process p = pb.start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the launcher did not finish");
        return new Run(p.exitValue(), Files.readAllLines(out), Files.readString(err));
    }

    private Run diffuse(String... args) throws Exception {
        return run(Map.of(), root.resolve("diffuse"), args);
    }

    private List<String> mavenRuns() throws IOException {
        Path log = root.resolve("mvnw.log");
        return Files.exists(log) ? Files.readAllLines(log) : List.of();
    }

    @Test
    void runsThroughASymlinkFromAnotherFolder() throws Exception {
        Path link = tmp.resolve("bin/d");
        Files.createDirectories(link.getParent());
        Files.createSymbolicLink(link, root.resolve("diffuse"));
        Run r = run(Map.of(), link, "--help");
        assertEquals(3, r.exit(), r.stderr());
        assertTrue(r.has("-Dtd.home=" + root), r.javaArgs().toString());
        assertEquals(List.of("dev.tornadodiffusion.cli.Diffuse", "--help"), r.javaArgs().subList(r.javaArgs().size() - 2, r.javaArgs().size()));
    }

    @Test
    void tornadoOptionsOnlyWhenTheTornadoDeviceIsUsed() throws Exception {
        String argfile = "@" + sdk.resolve("tornado-argfile");
        assertFalse(diffuse("generate", "--prompt", "x").has(argfile));
        assertFalse(diffuse("generate", "--prompt", "--device tornado").has(argfile), "a prompt is not an option");
        assertTrue(diffuse("generate", "--prompt", "x", "--device", "tornado").has(argfile));
        assertTrue(diffuse("parity", "--device=tornado", "case").has(argfile));
        assertTrue(diffuse("devices").has(argfile));
        assertTrue(diffuse("bench-device").has(argfile));
        assertFalse(run(Map.of(), root.resolve("examples/run"), "EmbedExample").has(argfile));
    }

    @Test
    void keepsTheUsersJavaOptions() throws Exception {
        Run r = run(Map.of("TD_JAVA_OPTS", "-Dtd.debug=true -Xmx1g"), root.resolve("diffuse"), "generate", "--device", "tornado");
        assertTrue(r.has("-Dtd.debug=true") && r.has("-Xmx1g"), r.javaArgs().toString());
        assertTrue(r.has("@" + sdk.resolve("tornado-argfile")));
        Run e = run(Map.of("TD_JAVA_OPTS", "-Dtd.debug=true"), root.resolve("examples/run"), "EmbedExample");
        assertTrue(e.has("-Dtd.debug=true"), e.javaArgs().toString());
    }

    @Test
    void dropsTheIncubatorWarningOnlyAndKeepsTheExitCode() throws Exception {
        Run r = diffuse("generate");
        assertEquals(3, r.exit());
        assertFalse(r.stderr().contains(WARNING), r.stderr());
        assertTrue(r.stderr().contains("a line of the program's own"), r.stderr());
    }

    /** {@code ./diffuse serve & ...; kill $!} stops the JVM too, as when the launcher exec'd it. */
    @Test
    void aTermSentToTheLauncherStopsTheJvm() throws Exception {
        Path pidFile = tmp.resolve("java.pid");
        ProcessBuilder pb = new ProcessBuilder("bash", root.resolve("diffuse").toString(), "serve").directory(tmp.toFile())
                .redirectOutput(tmp.resolve("o.txt").toFile()).redirectError(tmp.resolve("e.txt").toFile());
        pb.environment().putAll(Map.of("JAVA_HOME", jdk.toString(), "TORNADOVM_HOME", sdk.toString(), "FAKE_JAVA_WAITS", pidFile.toString()));
        Process launcher = pb.start();
        for (int i = 0; i < 600 && !(Files.exists(pidFile) && !Files.readString(pidFile).isBlank()); i++) Thread.sleep(50);
        ProcessHandle java = ProcessHandle.of(Long.parseLong(Files.readString(pidFile).trim())).orElseThrow();
        launcher.destroy();  // SIGTERM
        assertTrue(launcher.waitFor(10, TimeUnit.SECONDS), "the launcher ends");
        assertTrue(java.onExit().get(10, TimeUnit.SECONDS) != null && !java.isAlive(), "the JVM ends with it");
    }

    @Test
    void rebuildsWhenTheTornadoSdkAppearsOrDisappears() throws Exception {
        diffuse("devices");
        assertEquals(1, mavenRuns().size(), "first use builds");
        assertTrue(mavenRuns().getLast().contains("-Ptornado"), mavenRuns().toString());
        diffuse("devices");
        assertEquals(1, mavenRuns().size(), "nothing changed: no build");
        Files.delete(sdk.resolve("tornado-argfile"));
        diffuse("generate");
        assertEquals(2, mavenRuns().size(), "the SDK went away: rebuilt without the TornadoVM backend");
        assertFalse(mavenRuns().getLast().contains("-Ptornado"), mavenRuns().toString());
        Files.writeString(sdk.resolve("tornado-argfile"), "--enable-preview\n");
        diffuse("generate");
        assertEquals(3, mavenRuns().size(), "the SDK came back: rebuilt with it");
        assertTrue(mavenRuns().getLast().contains("-Ptornado"), mavenRuns().toString());
    }
}
