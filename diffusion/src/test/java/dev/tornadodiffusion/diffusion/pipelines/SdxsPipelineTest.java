package dev.tornadodiffusion.diffusion.pipelines;

import dev.tornadodiffusion.diffusion.image.Png;
import dev.tornadodiffusion.nn.tokenizers.Tokenizer;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Compare;
import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SdxsPipelineTest {
    final Backend be = Backends.cpu();

    @Test
    void promptToImageThroughTheFolderAndIntoThePngMetadata(@TempDir Path dir) throws Exception {
        Path folder = TinyFolders.sdxs(dir.resolve("sdxs"));
        String prompt = "кот на подоконнике, 猫 🐱";
        try (Pipeline p = Pipeline.load(folder, be, LoadOptions.DEFAULT)) {
            SdxsPipeline sdxs = assertInstanceOf(SdxsPipeline.class, p);
            GenerationRequest r = GenerationRequest.builder(prompt).negativePrompt("размыто").steps(3).width(48).height(32).seed(7).build();
            GenerationResult a = p.generate(r, Progress.NONE);
            assertArrayEquals(new int[]{1, 32, 48, 3}, a.images().shape());
            // the conditioning is the projected CLS of each padded prompt; given as embeddings it gives the same image
            Tensor cond = sdxs.encodePrompts(List.of(prompt)), uncond = sdxs.encodePrompts(List.of("размыто"));
            assertArrayEquals(new int[]{1, 1, 24}, cond.shape());
            GenerationResult b = p.generate(GenerationRequest.builder(null).promptEmbeds(cond.reshape(1, 24)).negativePromptEmbeds(uncond)
                    .steps(3).width(48).height(32).seed(7).build(), Progress.NONE);
            assertTrue(Compare.exact("same image", b.images(), a.images()).pass());
            // the prompt matters
            GenerationResult c = p.generate(r.toBuilder().prompt("a dog").build(), Progress.NONE);
            assertFalse(Compare.absolute("other prompt", c.images(), a.images(), 1e-3).pass());
            // the card's 512-token padding: the text tower sees the same CLS as the unpadded prompt
            Tokenizer.Encoding e = sdxs.tokenizer.encode(prompt, SdxsPipeline.MAX_LENGTH);
            assertEquals(512, e.input_ids().length);

            byte[] png = Png.encode(a.image(0), a.parameters());
            try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(png))) {
                var reader = ImageIO.getImageReadersByFormatName("png").next();
                reader.setInput(in);
                IIOMetadataNode root = (IIOMetadataNode) reader.getImageMetadata(0).getAsTree("javax_imageio_png_1.0");
                IIOMetadataNode entry = (IIOMetadataNode) root.getElementsByTagName("iTXtEntry").item(0);
                assertEquals("parameters", entry.getAttribute("keyword"));
                assertEquals(a.parameters().get("parameters"), entry.getAttribute("text"));
                assertTrue(entry.getAttribute("text").startsWith(prompt + "\nNegative prompt: размыто\nSteps: 3"), entry.getAttribute("text"));
            }
            assertThrows(IllegalArgumentException.class, () -> p.generate(r.toBuilder().clipSkip(1).build(), Progress.NONE));
        }
    }
}
