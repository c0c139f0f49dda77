package dev.tornadodiffusion.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.cli.bench.PeakMemory;
import dev.tornadodiffusion.diffusion.pipelines.VaeStage;
import dev.tornadodiffusion.nn.unet.UNet2DConditionConfig;
import dev.tornadodiffusion.nn.unet.UNet2DConditionModel;
import dev.tornadodiffusion.nn.vae.AutoencoderKL;
import dev.tornadodiffusion.nn.vae.AutoencoderKLConfig;
import dev.tornadodiffusion.weights.Json;
import dev.tornadodiffusion.weights.JsonConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * What a request needs in memory, worked out from the model folder's configs and weight files before anything is
 * loaded or allocated: the weights (mapped safetensors, or on the heap for pickles and random bench weights) plus
 * the largest set of activations alive at once. Activations are F32 on the Java heap; their peak is the larger of
 * <ul>
 *   <li>the UNet forward over the guided batch: every skip connection the down path keeps for the up path, plus the
 *       widest block working at the largest resolution (an up-path resnet over its concatenated input, or a
 *       transformer block whose GEGLU feed-forward holds 8 + 4 + 4 channels per token; attention is fused, so its
 *       buffers are O(tokens), a copy of K and V);</li>
 *   <li>the VAE decode of the whole batch at full resolution, or of one {@value VaeStage#VAE_TILE}-pixel tile
 *       plus the decoded tiles and the blended image when the pipeline tiles (above
 *       {@value VaeStage#TILING_ABOVE}^2 pixels).</li>
 * </ul>
 * The per-block counts are upper bounds of what the eager CPU code keeps referenced (inputs, norm, activation,
 * outputs, residuals); {@code MemoryEstimateTest} checks the estimate against measured live-heap peaks.
 */
public record MemoryEstimate(long mappedWeights, long heapWeights, long activations, String what) {
    static final long MIB = 1L << 20;
    /** Heap the process holds besides weights and activations: tokenizer tables, configs, PNG encoding, JIT'd code. */
    static final long HEAP_BASE = 192 * MIB;
    /** What any request holds besides the models' activations: prompt states, latents, scheduler, PNG encoding. */
    static final long REQUEST_BASE = 24 * MIB;
    /** The part of {@link #HEAP_BASE} a loaded pipeline is known to hold; the rest is room for the collector. */
    static final long HEAP_HELD = 96 * MIB;

    public long weights() { return mappedWeights + heapWeights; }

    public long total() { return weights() + activations; }

    public String describe() {
        return String.format(Locale.ROOT, "%s needs about %s (weights %s + activations %s)", what, gib(total()), gib(weights()), gib(activations));
    }

    /** Refuses (one line, naming the estimate and the limit) when the request cannot fit {@code limit} bytes. */
    public void check(long limit, String limitName) {
        if (limit > 0 && total() > limit)
            throw new IllegalStateException(describe() + ", over " + limitName + " of " + gib(limit) + "; ask for a smaller size or batch");
    }

    /** Refuses what cannot fit the machine: the physical memory free now, and this JVM's heap limit. */
    public void checkMachine(long alreadyHeld) {
        long available = PeakMemory.availableMemory();
        if (available > 0) check(available + alreadyHeld, "the memory free on this machine (MemAvailable in /proc/meminfo)");
        long heapLimit = Runtime.getRuntime().maxMemory();
        if (heapWeights + activations + HEAP_HELD > heapLimit)
            throw new IllegalStateException(String.format(Locale.ROOT, "%s, over this JVM's heap limit of %s (-Xmx; ./diffuse sizes it from the request)",
                    describe(), gib(heapLimit)));
    }

    static String gib(long bytes) {
        return bytes >= (1L << 30) ? String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30)) : String.format(Locale.ROOT, "%d MiB", (bytes + MIB - 1) / MIB);
    }

    // ---- a pipeline folder

    /**
     * A generation of {@code batch} images of width x height (null: the model's default size) from the pipeline folder
     * {@code model}, with classifier-free guidance unless {@code guided} is false.
     */
    public static MemoryEstimate forPipeline(Path model, Integer width, Integer height, int batch, boolean guided, String variant) throws IOException {
        Path index = model.resolve("model_index.json");
        long mapped = 0, heap = 0;
        if (Files.isRegularFile(index)) {
            JsonNode mi = Json.read(index);
            for (Iterator<String> it = mi.fieldNames(); it.hasNext(); ) {
                String component = it.next();
                JsonNode e = mi.get(component);
                if (!e.isArray() || e.size() != 2 || e.get(0).isNull() || !Files.isDirectory(model.resolve(component))) continue;
                long[] w = weightFiles(model.resolve(component), variant);
                mapped += w[0];
                heap += w[1];
            }
        }
        Path unetConfig = model.resolve("unet").resolve("config.json"), vaeConfig = model.resolve("vae").resolve("config.json");
        if (!Files.isRegularFile(unetConfig) || !Files.isRegularFile(vaeConfig))
            return new MemoryEstimate(mapped, heap, 0, model.getFileName() + " (activations not modelled for this pipeline)");
        UNet2DConditionConfig unet = UNet2DConditionModel.readConfig(unetConfig);
        AutoencoderKLConfig vae = AutoencoderKLConfig.from(JsonConfig.read(vaeConfig));
        int scale = vae.downscale();
        int sample = unet.sample_size() != null ? unet.sample_size() : 64;
        int w = width != null ? width : sample * scale, h = height != null ? height : sample * scale;
        long act = REQUEST_BASE + Math.max(unetActivations(unet, ceilDiv(h, scale), ceilDiv(w, scale), batch * (guided ? 2 : 1)),
                vaeDecodeActivations(vae, h, w, batch));
        return new MemoryEstimate(mapped, heap, act, String.format(Locale.ROOT, "%dx%d x %d image%s", w, h, batch, batch == 1 ? "" : "s"));
    }

    /** Bytes of the weight files a loader reads from one component folder: {mapped (safetensors), heap (pickles)}. */
    private static long[] weightFiles(Path dir, String variant) throws IOException {
        long mapped = 0, heap = 0;
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.toList()) {
                String name = f.getFileName().toString();
                boolean safetensors = name.endsWith(".safetensors"), pickle = name.endsWith(".bin") || name.endsWith(".ckpt") || name.endsWith(".pt");
                if (!safetensors && !pickle) continue;
                boolean isVariant = variant != null && name.contains("." + variant + ".");
                if (variant != null ? !isVariant : name.matches(".*\\.(fp16|bf16|fp32)\\.[a-z]+$")) continue;
                if (safetensors) mapped += Files.size(f);
                else heap += Files.size(f);
            }
        }
        if (variant != null && mapped + heap == 0) return weightFiles(dir, null);
        return new long[]{mapped, heap};
    }

    // ---- the models' activations (F32 bytes)

    /** Peak activations of one UNet forward over {@code rows} latents of h x w. */
    static long unetActivations(UNet2DConditionConfig c, int h, int w, int rows) {
        int[] ch = c.block_out_channels();
        int levels = ch.length;
        long skips = 0, work = 0;
        long tokens0 = (long) h * w;
        skips += tokens0 * ch[0];   // conv_in
        for (int i = 0; i < levels; i++) {
            long n = tokens(h, w, i);
            skips += (long) c.layers_per_block()[i] * n * ch[i];
            if (i < levels - 1) skips += tokens(h, w, i + 1) * ch[i];
            boolean attention = c.down_block_types().get(i).startsWith("CrossAttn")
                    || c.up_block_types().get(levels - 1 - i).startsWith("CrossAttn") || i == levels - 1;
            // up path at this level: the previous level's (upsampled) output concatenated with a skip, through a resnet
            long in = ch[i] + Math.max(ch[i], i + 1 < levels ? ch[i + 1] : ch[i]);
            long resnet = 3 * in + 5L * ch[i];
            long transformer = attention ? 24L * ch[i] : 0;
            work = Math.max(work, n * Math.max(resnet, transformer));
        }
        long context = 77L * c.cross_attention_dim()[0] * 4;   // the text states and one layer's K and V of them
        return 4L * rows * (skips + work + context);
    }

    /** Peak activations of decoding {@code batch} latents to height x width pixels, tiled as the pipelines tile. */
    static long vaeDecodeActivations(AutoencoderKLConfig c, int height, int width, int batch) {
        long pixels = (long) height * width;
        if (pixels <= (long) VaeStage.TILING_ABOVE * VaeStage.TILING_ABOVE) return vaeDecodeUntiled(c, height, width, batch);
        long tile = VaeStage.VAE_TILE, stride = (long) (tile * (1 - AutoencoderKL.TILE_OVERLAP_FACTOR));
        long tiles = ceilDiv(height, stride) * ceilDiv(width, stride);
        // one tile decoding, every decoded tile kept for blending, the blended image and its post-processed copies
        return 4L * batch * (decoderWork(c, tile * tile) + tiles * 3 * tile * tile + 4 * 3 * pixels);
    }

    /** Peak activations of decoding {@code batch} latents to height x width pixels in one piece. */
    static long vaeDecodeUntiled(AutoencoderKLConfig c, int height, int width, int batch) {
        long pixels = (long) height * width;
        return 4L * batch * (decoderWork(c, pixels) + 4 * 3 * pixels);
    }

    /** The widest level of the decoder over an image of {@code pixels}: a resnet from the level below's channels. */
    private static long decoderWork(AutoencoderKLConfig c, long pixels) {
        int[] ch = c.block_out_channels();
        int levels = ch.length;
        long work = pixels / (1L << (2 * (levels - 1))) * 8L * ch[levels - 1];   // the mid block's attention
        for (int j = 0; j < levels; j++) {
            int out = ch[levels - 1 - j], in = ch[Math.min(levels - 1, levels - j)];
            long px = pixels / (1L << (2 * (levels - 1 - j)));
            work = Math.max(work, px * (3L * in + 5L * out));
        }
        return work;
    }

    private static long tokens(int h, int w, int level) {
        long hh = h, ww = w;
        for (int i = 0; i < level; i++) { hh = (hh + 1) / 2; ww = (ww + 1) / 2; }
        return hh * ww;
    }

    private static long ceilDiv(long a, long b) { return (a + b - 1) / b; }

    private static int ceilDiv(int a, int b) { return (a + b - 1) / b; }

}
