package dev.tornadodiffusion.cli;

import dev.tornadodiffusion.diffusion.pipelines.GenerationRequest;
import dev.tornadodiffusion.diffusion.pipelines.LoadOptions;
import dev.tornadodiffusion.diffusion.pipelines.Pipeline;
import dev.tornadodiffusion.diffusion.pipelines.Progress;
import dev.tornadodiffusion.tensor.Backends;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The memory estimate against what a generation really holds: live heap data measured by full collections
 * (MemoryMXBean after System.gc) taken every few milliseconds while the bundled model generates at two sizes.
 * The estimate must cover the measured peak (it sizes the launcher's heap) and stay within {@link #FACTOR} of it.
 */
class MemoryEstimateTest {
    /** How far above the measured live peak the estimate may be: its per-block counts are upper bounds. */
    static final double FACTOR = 4;

    @Test
    void estimateCoversTheMeasuredLivePeakWithinAFactor() throws Exception {
        try (Pipeline p = Pipeline.load(GenerateCommandTest.TINY, Backends.cpu(), LoadOptions.DEFAULT)) {
            for (int size : new int[]{128, 512}) {
                MemoryEstimate e = MemoryEstimate.forPipeline(GenerateCommandTest.TINY, size, size, 1, true, null);
                long live = livePeak(p, size);
                System.out.printf(Locale.ROOT, "%dx%d: estimated activations %d MiB, measured live peak %d MiB%n", size, size, e.activations() >> 20, live >> 20);
                assertTrue(live <= e.activations(), size + ": measured " + live + " > estimate " + e.activations());
                assertTrue(e.activations() <= FACTOR * live, size + ": estimate " + e.activations() + " over " + FACTOR + "x measured " + live);
            }
        }
    }

    /** Most live heap above the loaded pipeline's while it generates, sampled by a full GC every 10 ms. */
    private static long livePeak(Pipeline p, int size) throws Exception {
        MemoryMXBean mx = ManagementFactory.getMemoryMXBean();
        System.gc();
        long base = mx.getHeapMemoryUsage().getUsed();
        long[] peak = {0};
        Thread sampler = Thread.ofPlatform().daemon().start(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                System.gc();
                peak[0] = Math.max(peak[0], mx.getHeapMemoryUsage().getUsed() - base);
                try { Thread.sleep(10); } catch (InterruptedException ex) { return; }
            }
        });
        p.generate(GenerationRequest.builder("a red circle").steps(2).seed(1).width(size).height(size).build(), Progress.NONE);
        sampler.interrupt();
        sampler.join();
        return peak[0];
    }

    @Test
    void weightsComeFromTheFolderAndLimitsRefuseInOneLine() throws Exception {
        MemoryEstimate e = MemoryEstimate.forPipeline(GenerateCommandTest.TINY, 64, 64, 1, true, null);
        long files = 0;
        for (String f : new String[]{"unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors"})
            files += java.nio.file.Files.size(GenerateCommandTest.TINY.resolve(f));
        assertEquals(files, e.mappedWeights());
        // activations grow with the pixels and the batch; tiling bounds the decoder above 768x768
        MemoryEstimate big = MemoryEstimate.forPipeline(GenerateCommandTest.TINY, 512, 512, 4, true, null);
        assertTrue(big.activations() > 16 * e.activations());
        MemoryEstimate tiled = MemoryEstimate.forPipeline(GenerateCommandTest.TINY, 4096, 4096, 1, true, null);
        assertTrue(tiled.activations() < 64 * MemoryEstimate.forPipeline(GenerateCommandTest.TINY, 512, 512, 1, true, null).activations());
        IllegalStateException x = assertThrows(IllegalStateException.class, () -> big.check(1 << 20, "--max-memory"));
        assertTrue(x.getMessage().contains("needs about") && x.getMessage().contains("over --max-memory of 1 MiB") && !x.getMessage().contains("\n"), x.getMessage());
    }

    @Test
    void theLauncherHeapFollowsTheRequest() throws Exception {
        long small = HeapSize.heapFor(new String[]{"generate", "--prompt", "x", "--model", GenerateCommandTest.TINY.toString()});
        long large = HeapSize.heapFor(new String[]{"generate", "--prompt", "x", "--model", GenerateCommandTest.TINY.toString(), "--width", "512", "--height", "512"});
        assertTrue(small < large && large < (1L << 30), small + " " + large);
        // random bench weights live on the heap: SD1.5's UNet has 859,520,964 parameters
        long bench = HeapSize.heapFor(new String[]{"bench", "unet", "--random", "sd15", "--dtype", "f16"});
        assertTrue(bench > 859_520_964L * 2 && bench < 859_520_964L * 2 + (1L << 30), Long.toString(bench));
        assertEquals(null, HeapSize.heapFor(new String[]{"train"}));
    }
}
