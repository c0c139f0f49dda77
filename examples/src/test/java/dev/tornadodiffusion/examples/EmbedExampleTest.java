package dev.tornadodiffusion.examples;

import dev.tornadodiffusion.diffusion.image.Png;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** The embedding example as README runs it, and what a program started without the Vector API flag is told. */
class EmbedExampleTest {
    static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

    record Run(int exit, String output) {}

    /** EmbedExample in a fresh JVM on this module's test classpath, with the given JVM flags. */
    static Run example(List<String> jvmFlags, Path dir, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g", "-Xss8m"));
        cmd.addAll(jvmFlags);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), EmbedExample.class.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), out);
        return new Run(p.exitValue(), out);
    }

    @Test
    void makesAPictureWithTheReadmesArguments(@TempDir Path dir) throws Exception {
        Run r = example(List.of("--add-modules=jdk.incubator.vector"), dir, ROOT.resolve("models/tiny-sd").toString(), "a red fox", "fox.png");
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("step 20/20") && r.output().contains("wrote fox.png"), r.output());
        assertTrue(Png.readText(dir.resolve("fox.png")).get("parameters").startsWith("a red fox\n"));
    }

    @Test
    void withoutTheVectorApiFlagTheFirstCallNamesIt(@TempDir Path dir) throws Exception {
        Run r = example(List.of(), dir, ROOT.resolve("models/tiny-sd").toString(), "a red fox", "fox.png");
        assertNotEquals(0, r.exit());
        assertTrue(r.output().contains("--add-modules=jdk.incubator.vector"), r.output());
        assertFalse(r.output().contains("NoClassDefFoundError"), r.output());
        assertTrue(r.output().contains("at dev.tornadodiffusion.examples.EmbedExample.main"), "fails where the pipeline is loaded: " + r.output());
        assertFalse(Files.exists(dir.resolve("fox.png")));
    }
}
