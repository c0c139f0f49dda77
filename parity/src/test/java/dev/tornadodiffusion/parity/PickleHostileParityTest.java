package dev.tornadodiffusion.parity;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tornadodiffusion.tensor.Compare.Check;
import dev.tornadodiffusion.weights.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PickleHostileParityTest {
    @TempDir Path dir;

    /** A copy of the case whose meta.json asks for what the loader does not do, with a file it does not list. */
    @Test
    void failsWhereTheLoaderDoesNotDoWhatMetaJsonSays() throws IOException {
        Path source = Fixtures.path("pickle-hostile");
        try (Stream<Path> files = Files.walk(source)) {
            for (Path f : files.toList()) Files.copy(f, dir.resolve(source.relativize(f).toString()), StandardCopyOption.REPLACE_EXISTING);
        }
        ObjectNode meta = (ObjectNode) Json.read(dir.resolve("meta.json"));
        ((ArrayNode) meta.get("refuse").get(0).get("error_must_mention")).set(0, "nt.system");   // os_system.ckpt names posix.system
        ((ArrayNode) meta.get("refuse")).addObject().put("file", "accept/with_float.ckpt").putArray("error_must_mention").add("x");
        ((ObjectNode) meta.get("accept_expected").get("structure").get("dtypes")).put("f16", "float32");
        Files.writeString(dir.resolve("meta.json"), meta.toString());
        Files.write(dir.resolve("stray.pt"), new byte[]{1});

        List<Check> checks = PickleHostileParity.run(dir, null);
        Map<String, Check> byName = checks.stream().collect(Collectors.toMap(Check::name, Function.identity()));
        Check os = byName.get("os_system.ckpt refused");
        assertFalse(os.pass(), os.toString());
        assertTrue(os.problem().contains("refused pickle global 'posix.system'"), os.toString());
        assertEquals("loaded without an error", byName.get("accept/with_float.ckpt refused").problem());
        assertEquals("dtype F16, expected F32", byName.get("accept/mixed.ckpt:f16").problem());
        assertEquals("dtype F16, expected F32", byName.get("accept/mixed_legacy.pth:f16").problem());
        assertFalse(byName.get("stray.pt").pass());
        assertEquals(5, checks.stream().filter(c -> !c.pass()).count(), checks.toString());
    }
}
