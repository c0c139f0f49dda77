package dev.tornadodiffusion.weights.torch;

import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Fixtures;
import dev.tornadodiffusion.weights.WeightFormatException;
import org.apache.commons.compress.archivers.zip.ZipArchiveEntry;
import org.apache.commons.compress.archivers.zip.ZipArchiveOutputStream;
import org.apache.commons.compress.archivers.zip.ZipFile;
import org.apache.commons.compress.utils.SeekableInMemoryByteChannel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Damaged and random input must be loaded or refused with a WeightFormatException: never another
 * exception, an OutOfMemoryError, a StackOverflowError or a hang (the timeout only catches hangs).
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class TorchCheckpointFuzzTest {
    static final List<String> SEEDS = List.of("accept/with_float.ckpt", "accept/mixed.ckpt", "accept/mixed_legacy.pth",
            "os_system.pkl", "subprocess_popen_p4.pkl", "os_system_inst.pkl", "storage_too_small.ckpt");

    @Test
    void mutatedCheckpointsAreLoadedOrRefusedCleanly(@TempDir Path dir) throws IOException {
        Random random = new Random(1950);
        List<byte[]> seeds = new ArrayList<>();
        List<int[]> pickles = new ArrayList<>();
        for (String seed : SEEDS) {
            Path path = Fixtures.path("pickle-hostile/" + seed);
            seeds.add(Files.readAllBytes(path));
            pickles.add(seed.endsWith(".ckpt") ? dataPklRange(path) : new int[]{0, seeds.getLast().length});
        }
        Path file = dir.resolve("mutant.ckpt");
        for (int i = 0; i < 2500; i++) {
            byte[] seed = seeds.get(i % SEEDS.size());
            int[] pickle = pickles.get(i % SEEDS.size());
            // half of the zip mutants damage only data.pkl, so that the pickle reader sees them
            boolean inPickle = random.nextBoolean();
            byte[] mutant = mutate(seed, inPickle ? pickle[0] : 0, inPickle ? pickle[1] : seed.length, random);
            String what = "mutant " + i + " of " + SEEDS.get(i % SEEDS.size());
            if (i % 10 == 0) {   // through a mapped file, the rest from memory (opening files is slow)
                Files.write(file, mutant);
                loadOrRefuse(() -> TorchCheckpoint.load(file), what);
            } else {
                loadOrRefuse(() -> TorchCheckpoint.read(what, new SeekableInMemoryByteChannel(mutant), MemorySegment.ofArray(mutant), Arena.ofConfined()), what);
            }
        }
    }

    @Test
    void randomOpcodeStreamsAreReadOrRefusedCleanly() {
        Random random = new Random(1001);
        for (int i = 0; i < 12000; i++) {
            byte[] pickle = randomPickle(random);
            try {
                new Unpickler("random.pkl", null, MemorySegment.ofArray(pickle), 0, new TorchPickle("random.pkl")).load();
            } catch (WeightFormatException expected) {
                assertOneLine("random pickle " + i, expected);
            } catch (Throwable t) {
                fail("random pickle " + i + " " + Arrays.toString(pickle) + " threw " + t, t);
            }
        }
        // and as data.pkl of a zip next to a 64-byte storage record, through the whole loader
        for (int i = 0; i < 500; i++) {
            byte[] zip = zip(randomPickle(random));
            String what = "random zip " + i;
            loadOrRefuse(() -> TorchCheckpoint.read(what, new SeekableInMemoryByteChannel(zip), MemorySegment.ofArray(zip), Arena.ofConfined()), what);
        }
    }

    interface Load { TorchCheckpoint run() throws IOException; }

    private static void loadOrRefuse(Load load, String what) {
        TorchCheckpoint ckpt = null;
        try {
            ckpt = load.run();
            for (String key : ckpt.keys()) {
                Tensor t = ckpt.get(key);
                if (t.numel() > 0) { t.getFlat(0); t.getFlat(t.numel() - 1); }   // first and farthest element are inside the storage
            }
        } catch (WeightFormatException expected) {
            assertOneLine(what, expected);
        } catch (Throwable t) {
            fail(what + " threw " + t, t);
        } finally {
            if (ckpt != null) ckpt.close();
        }
    }

    private static void assertOneLine(String what, WeightFormatException e) {
        if (e.getMessage().contains("\n") || e.getMessage().contains("\r")) fail(what + ": message of several lines: " + e.getMessage());
    }

    private static byte[] zip(byte[] pickle) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipArchiveOutputStream zip = new ZipArchiveOutputStream(bytes)) {
            for (String name : List.of("archive/data.pkl", "archive/data/0")) {
                ZipArchiveEntry e = new ZipArchiveEntry(name);
                e.setMethod(ZipArchiveEntry.DEFLATED);
                zip.putArchiveEntry(e);
                zip.write(name.endsWith("pkl") ? pickle : new byte[64]);
                zip.closeArchiveEntry();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** Where data.pkl's bytes lie in a torch zip. */
    private static int[] dataPklRange(Path zipPath) throws IOException {
        try (ZipFile zip = ZipFile.builder().setPath(zipPath).get()) {
            for (ZipArchiveEntry e : Collections.list(zip.getEntries()))
                if (e.getName().endsWith("/data.pkl")) return new int[]{(int) e.getDataOffset(), (int) (e.getDataOffset() + e.getSize())};
        }
        throw new IllegalStateException("no data.pkl in " + zipPath);
    }

    /** Bit flips, random bytes, a cut, a deleted or a repeated run, within [from, to). */
    private static byte[] mutate(byte[] in, int from, int to, Random r) {
        byte[] b = in.clone();
        int at = from + r.nextInt(to - from);
        switch (r.nextInt(5)) {
            case 0 -> { for (int k = 1 + r.nextInt(8); k > 0; k--) { int p = from + r.nextInt(to - from); b[p] ^= (byte) (1 << r.nextInt(8)); } }
            case 1 -> { for (int k = 1 + r.nextInt(4); k > 0; k--) b[from + r.nextInt(to - from)] = (byte) r.nextInt(256); }
            case 2 -> b = Arrays.copyOf(b, at);
            case 3 -> {
                int n = Math.min(1 + r.nextInt(16), to - at);
                byte[] c = new byte[b.length - n];
                System.arraycopy(b, 0, c, 0, at);
                System.arraycopy(b, at + n, c, at, b.length - at - n);
                b = c;
            }
            default -> {
                int n = Math.min(1 + r.nextInt(32), to - at);
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                out.write(b, 0, at + n);
                out.write(b, at, b.length - at);
                b = out.toByteArray();
            }
        }
        return b;
    }

    /** Opcodes with plausible arguments, torch's globals and persistent ids among them, in random order. */
    private static final String[] TOKENS = {
            "(", ")", "]", "}", "N", "\u0088", "\u0089", "t", "l", "d", "a", "e", "s", "u", "R", "b", "0", "1", "2", "Q", "\u0085", "\u0086", "\u0087",
            "\u0094", "\u008f", "\u0090", "\u0091", "\u0093", "\u0081", "o", "K\u0000", "K\u0002", "K\u0006", "K\u00ff", "J\u00ff\u00ff\u00ff\u00ff",
            "J\u0000\u0000\u0000\u0080", "M\u0010\u0000", "\u008a\u0001\u00ff", "\u008a\u0000", "G\u003f\u00f0\u0000\u0000\u0000\u0000\u0000\u0000",
            "X\u0001\u0000\u0000\u0000a", "X\u0007\u0000\u0000\u0000storage", "X\u0001\u0000\u0000\u00000", "X\u0003\u0000\u0000\u0000cpu",
            "\u008c\u000bcollections", "\u008c\u000bOrderedDict", "q\u0000", "q\u0001", "h\u0000", "h\u0001", "r\u0002\u0000\u0000\u0000", "j\u0002\u0000\u0000\u0000",
            "ccollections\nOrderedDict\n", "ctorch._utils\n_rebuild_tensor_v2\n", "ctorch._utils\n_rebuild_parameter\n", "ctorch\nFloatStorage\n",
            "ctorch\nHalfStorage\n", "c_codecs\nencode\n", "cposix\nsystem\n", "I01\n", "F1.5\n", "S'x'\n", "Vy\n", "g0\n", "p3\n",
            "(X\u0007\u0000\u0000\u0000storagectorch\nFloatStorage\nX\u0001\u0000\u0000\u00000X\u0003\u0000\u0000\u0000cpuK\u0010tQ",
            "K\u0000K\u0004K\u0004\u0086K\u0004K\u0001\u0086\u0089ccollections\nOrderedDict\n)R", "\u0080\u0002",
            "X\u0001\u0000\u0000\u0000wctorch._utils\n_rebuild_tensor_v2\n((X\u0007\u0000\u0000\u0000storagectorch\nFloatStorage\nX\u0001\u0000\u0000\u00000"
                    + "X\u0003\u0000\u0000\u0000cpuK\u0010tQK\u0002K\u0002K\u0003\u0086K\u0003K\u0001\u0086\u0089ccollections\nOrderedDict\n)RtR", "\u0095\u0004\u0000\u0000\u0000\u0000\u0000\u0000\u0000",
    };

    private static byte[] randomPickle(Random r) {
        StringBuilder sb = new StringBuilder();
        for (int n = r.nextInt(120); n > 0; n--) {
            if (r.nextInt(20) == 0) sb.append((char) r.nextInt(256));
            else sb.append(TOKENS[r.nextInt(TOKENS.length)]);
        }
        if (r.nextInt(4) > 0) sb.append('.');
        return sb.toString().getBytes(StandardCharsets.ISO_8859_1);
    }
}
