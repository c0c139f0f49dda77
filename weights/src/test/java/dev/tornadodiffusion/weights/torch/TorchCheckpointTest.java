package dev.tornadodiffusion.weights.torch;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Fixtures;
import dev.tornadodiffusion.weights.Json;
import dev.tornadodiffusion.weights.Safetensors;
import dev.tornadodiffusion.weights.WeightFormatException;
import org.apache.commons.compress.archivers.zip.ZipArchiveEntry;
import org.apache.commons.compress.archivers.zip.ZipArchiveOutputStream;
import org.apache.commons.compress.archivers.zip.ZipFile;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TorchCheckpointTest {
    static final String HOSTILE = "pickle-hostile/";

    @Test
    void refusedGlobalMessageNamesTheGlobalAndTheRule() {
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> TorchCheckpoint.load(Fixtures.path(HOSTILE + "os_system.ckpt")));
        assertTrue(e.getMessage().endsWith("os_system.ckpt: refused pickle global 'posix.system' (only tensor-rebuild functions are allowed)"), e.getMessage());
    }

    @TestFactory
    Stream<DynamicTest> sharedStoragesStayMappedViewsAndOtherObjectsAreKept() {
        return Stream.of("mixed.ckpt", "mixed_legacy.pth").map(file -> DynamicTest.dynamicTest(file, () -> {
            try (TorchCheckpoint ckpt = TorchCheckpoint.load(Fixtures.path(HOSTILE + "accept/" + file))) {
                // the two views share the storage of f32, in the file
                Tensor f32 = ckpt.get("f32"), transposed = ckpt.get("f32_transposed_view"), slice = ckpt.get("f32_slice_view");
                assertSame(f32.segment(), transposed.segment());
                assertSame(f32.segment(), slice.segment());
                assertArrayEquals(new long[]{1, 6}, transposed.strides());
                assertEquals(8, slice.offset());
                assertTrue(f32.segment().isMapped(), "not copied");
                assertArrayEquals(new int[0], ckpt.get("scalar").shape());
                assertArrayEquals(new int[]{0, 3}, ckpt.get("empty").shape());

                Map<String, Object> objects = ckpt.objects();
                assertEquals(123456L, objects.get("global_step"));
                assertEquals(7L, objects.get("epoch"));
                assertEquals("accept-control", objects.get("name"));
                assertEquals(Arrays.asList(true, null), objects.get("flags"));
                assertEquals(List.of(1L, 2L), objects.get("shape"));
            }
        }));
    }

    @Test
    void acceptsPythonFloats() throws IOException {
        try (TorchCheckpoint ckpt = TorchCheckpoint.load(Fixtures.path(HOSTILE + "accept/with_float.ckpt"))) {
            assertEquals(Set.of("weight"), ckpt.keys());
            assertEquals(0.5, ckpt.objects().get("lr"));
            assertEquals(List.of(0.9, 0.999), ckpt.objects().get("betas"));
        }
    }

    @TestFactory
    Stream<DynamicTest> tldStateDictInBothFormatsEqualsTheSafetensorsWeights() {
        return Stream.of("state_dict.pth", "state_dict_legacy.pth").map(file -> DynamicTest.dynamicTest(file, () -> {
            try (Safetensors expected = Safetensors.open(Fixtures.path("tld-denoiser/model.safetensors"));
                 TorchCheckpoint ckpt = TorchCheckpoint.load(Fixtures.path("pth-tld/" + file))) {
                assertEquals(expected.keys(), ckpt.keys());
                for (String key : expected.keys()) {
                    assertEquals(expected.get(key).dtype(), ckpt.get(key).dtype(), key);
                    Fixtures.assertSameTensor(key, expected.get(key), ckpt.get(key));
                }
                assertEquals(List.of(), List.copyOf(ckpt.objects().keySet()), "a state_dict() holds only tensors");
            }
        }));
    }

    @Test
    void ldmCheckpointHoldsTheSameTensorsAsItsSafetensorsTwin() throws IOException {
        JsonNode prefixes = Json.read(Fixtures.path("ckpt-sd/meta.json")).get("key_prefixes");
        try (Safetensors expected = Safetensors.open(Fixtures.path("ckpt-sd/model.safetensors"));
             TorchCheckpoint ckpt = TorchCheckpoint.load(Fixtures.path("ckpt-sd/model.ckpt"))) {
            assertEquals(expected.keys(), ckpt.keys());
            for (var p : prefixes.properties())
                assertEquals(p.getValue().asInt(), ckpt.keys().stream().filter(k -> k.startsWith(p.getKey())).count(), p.getKey());
            for (String key : expected.keys()) {
                assertEquals(DType.F16, ckpt.get(key).dtype(), key);
                Fixtures.assertSameTensor(key, expected.get(key), ckpt.get(key));
            }
        }
    }

    @Test
    void deflatedRecordsInAnyFolderAreInflated(@TempDir Path dir) throws IOException {
        Path source = Fixtures.path(HOSTILE + "accept/mixed.ckpt"), copy = dir.resolve("repacked.pt");
        try (ZipFile in = ZipFile.builder().setPath(source).get(); ZipArchiveOutputStream out = new ZipArchiveOutputStream(copy)) {
            for (ZipArchiveEntry e : Collections.list(in.getEntries())) {
                ZipArchiveEntry entry = new ZipArchiveEntry(e.getName().replace("mixed/", "archive/"));
                entry.setMethod(ZipArchiveEntry.DEFLATED);
                out.putArchiveEntry(entry);
                try (var data = in.getInputStream(e)) { data.transferTo(out); }
                out.closeArchiveEntry();
            }
        }
        try (TorchCheckpoint original = TorchCheckpoint.load(source); TorchCheckpoint repacked = TorchCheckpoint.load(copy)) {
            assertEquals(original.keys(), repacked.keys());
            for (String key : original.keys()) Fixtures.assertSameTensor(key, original.get(key), repacked.get(key));
            assertFalse(repacked.get("f32").segment().isMapped(), "inflated, not mapped");
            assertEquals(original.objects().keySet(), repacked.objects().keySet());
        }
    }

    /** A legacy file written by hand: storage views, a Lightning callbacks dict keyed by a class, state_dict next to other values. */
    @Test
    void legacyStorageViewsAndLightningCallbacks(@TempDir Path dir) throws IOException {
        String pid = "(X\u0007\0\0\0storagectorch\nFloatStorage\nX\u0002\0\0\u000010X\u0003\0\0\0cpuK\u0006";
        String tensor = "ctorch._utils\n_rebuild_tensor_v2\n(" + "%s" + "K\u0000(K\u0003t(K\u0001t\u0089ccollections\nOrderedDict\n)RtR";
        String viewOf2To4 = String.format(tensor, pid + "(X\u0002\0\0\u000011K\u0002K\u0003ttQ");
        String elements4To5 = String.format(tensor, pid + "NtQ").replace("K\u0000(K\u0003t", "K\u0004(K\u0002t");
        byte[] file = UnpicklerTest.pickle(
                0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, ".",
                0x80, 2, "M", 0xe9, 3, ".",
                0x80, 2, "}X\r\0\0\0little_endian", 0x88, "s.",
                0x80, 2, "}(X\n\0\0\0state_dict}(X\u0001\0\0\0a" + viewOf2To4 + "X\u0001\0\0\0b" + elements4To5 + "u"
                        + "X\u0009\0\0\0callbacks}cpytorch_lightning.callbacks.model_checkpoint\nModelCheckpoint\n}X\u0004\0\0\0bestK\u0001ss"
                        + "X\u0005\0\0\0epochK\u0003u.",
                0x80, 2, "]X\u0002\0\0\u000010a.",
                6, 0, 0, 0, 0, 0, 0, 0);
        ByteBuffer data = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 6; i++) data.putFloat(i);
        Path path = dir.resolve("handmade.pth");
        Files.write(path, file);
        Files.write(path, data.array(), StandardOpenOption.APPEND);
        try (TorchCheckpoint ckpt = TorchCheckpoint.load(path)) {
            assertEquals(List.of("a", "b"), List.copyOf(ckpt.keys()));
            assertArrayEquals(new float[]{2, 3, 4}, ckpt.get("a").toFloatArray());
            assertArrayEquals(new float[]{4, 5}, ckpt.get("b").toFloatArray());
            assertEquals(Map.of("epoch", 3L), ckpt.objects(), "the class-keyed callback state has no dotted name");
        }
        Files.write(path, Arrays.copyOf(file, file.length - 8));
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> TorchCheckpoint.load(path));
        assertTrue(e.getMessage().contains("storage '10'"), e.getMessage());
    }

    @Test
    void missingKeyNamesTheKeyAndTheFile() throws IOException {
        try (TorchCheckpoint ckpt = TorchCheckpoint.load(Fixtures.path(HOSTILE + "accept/with_float.ckpt"))) {
            WeightFormatException e = assertThrows(WeightFormatException.class, () -> ckpt.get("bias"));
            assertTrue(e.getMessage().contains("with_float.ckpt") && e.getMessage().contains("'bias'"), e.getMessage());
        }
    }

    @Test
    void closeUnmapsTheTensors() throws IOException {
        TorchCheckpoint ckpt = TorchCheckpoint.load(Fixtures.path(HOSTILE + "accept/with_float.ckpt"));
        Tensor weight = ckpt.get("weight");
        ckpt.close();
        assertThrows(IllegalStateException.class, () -> weight.getFlat(0));
        ckpt.close();
    }

    @Test
    void notACheckpointIsRefused(@TempDir Path dir) throws IOException {
        Path text = Files.writeString(dir.resolve("notes.pt"), "hello\n");
        assertThrows(WeightFormatException.class, () -> TorchCheckpoint.load(text));
        Path empty = Files.write(dir.resolve("empty.pt"), new byte[0]);
        assertThrows(WeightFormatException.class, () -> TorchCheckpoint.load(empty));
        Path number = Files.write(dir.resolve("number.pt"), new byte[]{(byte) 0x80, 2, 'K', 7, '.'});
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> TorchCheckpoint.load(number));
        assertTrue(e.getMessage().contains("not a PyTorch checkpoint"), e.getMessage());
    }
}
