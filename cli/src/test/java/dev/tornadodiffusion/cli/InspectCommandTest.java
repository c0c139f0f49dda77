package dev.tornadodiffusion.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

class InspectCommandTest {
    static final Path FIXTURES = Path.of(System.getProperty("fixtures.dir", "../../shared/fixtures"));
    private static final Pattern ROW = Pattern.compile("^(\\S+)\\s+(F32|F16|BF16|F64|I64|I32|I16|I8|U8|BOOL|F8_E4M3|F8_E5M2)\\s+(\\[[0-9, ]*])\\s+(\\d+)$");

    @TempDir Path dir;

    static List<String> inspect(String... args) throws Exception {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (PrintStream out = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
            assertEquals(0, new InspectCommand(out).run(args));
        }
        return buf.toString(StandardCharsets.UTF_8).lines().toList();
    }

    @Test
    void listsEveryTensorOfAFileWithMetadataAndTotals() throws Exception {
        Path file = FIXTURES.resolve("unet-sd/diffusion_pytorch_model.safetensors");
        List<String> lines = inspect(file.toString());
        assertEquals("weights " + file, lines.get(0));
        assertEquals(List.of("metadata:", "  format: pt"), lines.subList(1, 3));
        assertTrue(lines.get(3).matches("name\\s+dtype\\s+shape\\s+bytes"), lines.get(3));
        long rows = 0, bytes = 0;
        for (String line : lines) {
            Matcher m = ROW.matcher(line);
            if (!m.matches()) continue;
            rows++;
            bytes += Long.parseLong(m.group(4));
            if (m.group(1).equals("conv_in.weight")) assertEquals("F32 [16, 4, 3, 3] 2304", m.group(2) + " " + m.group(3) + " " + m.group(4));
        }
        assertEquals(494, rows);
        assertEquals(2221520, bytes);
        assertEquals("total: 494 tensors, 555380 parameters, 2221520 bytes (2.1 MiB), F32", lines.getLast());
        assertEquals(lines.size(), 494 + 5);
    }

    @Test
    void countsEachDtypeOfAMixedFile() throws Exception {
        List<String> lines = inspect(FIXTURES.resolve("pickle-hostile/accept/expected.safetensors").toString());
        assertEquals("total: 15 tensors, 119 parameters, 480 bytes (480 B), F64 1, F32 7, F16 1, I64 1, I32 2, I8 1, U8 1, BOOL 1", lines.getLast());
        assertTrue(lines.stream().anyMatch(l -> l.matches("scalar\\s+F32\\s+\\[]\\s+4")), String.join("\n", lines));
    }

    @Test
    void summarisesAModelFolder() throws Exception {
        Path unet = FIXTURES.resolve("unet-sd");
        List<String> lines = inspect(unet.toString());
        assertEquals("model " + unet + ": UNet2DConditionModel (diffusers 0.27.2)", lines.get(0));
        assertTrue(lines.get(1).startsWith("config: sample_size=8 in_channels=4 out_channels=4 block_out_channels=[16,32,32] layers_per_block=2 attention_head_dim=8 cross_attention_dim=32"), lines.get(1));
        assertEquals("weights " + unet.resolve("diffusion_pytorch_model.safetensors"), lines.get(2));
        assertEquals("total: 494 tensors, 555380 parameters, 2221520 bytes (2.1 MiB), F32", lines.getLast());
    }

    @Test
    void summarisesEachComponentOfAPipelineFolder() throws Exception {
        Path p = FIXTURES.resolve("pipeline-sd");
        List<String> lines = inspect(p.toString());
        assertEquals("pipeline " + p + ": StableDiffusionPipeline (diffusers 0.27.2)", lines.get(0));
        assertTrue(lines.contains("  text_encoder       -"), String.join("\n", lines));
        assertTrue(lines.contains("  scheduler          DDIMScheduler (diffusers)  num_train_timesteps=1000 beta_schedule=scaled_linear beta_start=0.00085 beta_end=0.012 prediction_type=epsilon timestep_spacing=leading"), String.join("\n", lines));
        int unet = lines.indexOf(lines.stream().filter(l -> l.startsWith("  unet ")).findFirst().orElseThrow());
        assertTrue(lines.get(unet).contains("UNet2DConditionModel (diffusers)  sample_size=8 in_channels=4 out_channels=4 block_out_channels=[16,32]"), lines.get(unet));
        assertEquals("weights unet/diffusion_pytorch_model.safetensors: 208 tensors, 203204 parameters, 812816 bytes (793.8 KiB), F32", lines.get(unet + 1).strip());
        int vae = lines.indexOf(lines.stream().filter(l -> l.startsWith("  vae ")).findFirst().orElseThrow());
        assertTrue(lines.get(vae).contains("AutoencoderKL (diffusers)") && lines.get(vae).contains("latent_channels=4") && lines.get(vae).contains("scaling_factor=0.18215"), lines.get(vae));
        assertEquals("weights vae/diffusion_pytorch_model.safetensors: 124 tensors, 167959 parameters, 671836 bytes (656.1 KiB), F32", lines.get(vae + 1).strip());
        assertEquals(11, lines.size());
    }

    /** Through the runner: a broken file is one line on stderr and exit code 1; bad arguments exit 2. */
    @Test
    void reportsErrorsInOneLine() throws Exception {
        Path bad = dir.resolve("broken.safetensors");
        Files.write(bad, new byte[]{100, 0, 0, 0, 0, 0, 0, 0, '{'});
        PrintStream err = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try {
            System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
            assertEquals(1, Diffuse.run(new String[]{"inspect", bad.toString()}));
            assertEquals(1, Diffuse.run(new String[]{"inspect", dir.resolve("missing").toString()}));
            assertEquals(1, Diffuse.run(new String[]{"inspect", dir.toString()}));
            assertEquals(2, Diffuse.run(new String[]{"inspect"}));
        } finally {
            System.setErr(err);
        }
        List<String> lines = buf.toString(StandardCharsets.UTF_8).lines().toList();
        assertEquals("diffuse inspect: " + bad + ": header length 100 runs past the end of the 9-byte file", lines.get(0));
        assertEquals("diffuse inspect: no such file: " + dir.resolve("missing"), lines.get(1));
        assertTrue(lines.get(2).startsWith("diffuse inspect: no such file: " + dir + ": no weights (looked for diffusion_pytorch_model.safetensors"), lines.get(2));
        assertEquals("diffuse inspect: expected one FILE or DIR, got 0", lines.get(3));
        assertTrue(lines.get(4).startsWith("usage: diffuse inspect FILE|DIR"), lines.get(4));
    }
}
