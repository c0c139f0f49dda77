package dev.tornadodiffusion.diffusion.image;

import dev.tornadodiffusion.tensor.Tensor;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.DeflaterOutputStream;

/**
 * 8-bit RGB PNG with tEXt (Latin-1) or iTXt (UTF-8) chunks: the generation settings go in a chunk named "parameters",
 * the convention other Stable Diffusion tools read.
 */
public final class Png {
    private static final byte[] SIGNATURE = {(byte) 137, 'P', 'N', 'G', '\r', '\n', 26, '\n'};

    private Png() {}

    /** Writes an [H, W, 3] image with values in [0, 1] (as diffusers' output_type "np"). */
    public static void write(Path file, Tensor imageHWC, Map<String, String> text) throws IOException {
        try (OutputStream out = Files.newOutputStream(file)) {
            out.write(encode(imageHWC, text));
        }
    }

    public static byte[] encode(Tensor imageHWC, Map<String, String> text) throws IOException {
        if (imageHWC.rank() != 3 || imageHWC.dim(2) != 3) throw new IllegalArgumentException("PNG needs an [H, W, 3] image, got " + imageHWC);
        int h = imageHWC.dim(0), w = imageHWC.dim(1);
        float[] px = imageHWC.contiguousF32().array();
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        try (DeflaterOutputStream z = new DeflaterOutputStream(raw)) {
            byte[] row = new byte[1 + 3 * w];  // filter byte 0 (none), then RGB
            for (int y = 0; y < h; y++) {
                for (int i = 0; i < 3 * w; i++) row[1 + i] = (byte) toByte(px[y * 3 * w + i]);
                z.write(row);
            }
        }
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        png.write(SIGNATURE);
        ByteArrayOutputStream ihdr = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(ihdr);
        d.writeInt(w);
        d.writeInt(h);
        d.write(new byte[]{8, 2, 0, 0, 0});  // 8 bits, RGB, deflate, adaptive filtering, no interlace
        chunk(png, "IHDR", ihdr.toByteArray());
        for (Map.Entry<String, String> e : text.entrySet()) {
            // tEXt is Latin-1; other text (a Russian or Chinese prompt) goes in an uncompressed UTF-8 iTXt chunk, as PIL writes it
            if (StandardCharsets.ISO_8859_1.newEncoder().canEncode(e.getValue()))
                chunk(png, "tEXt", (e.getKey() + "\0" + e.getValue()).getBytes(StandardCharsets.ISO_8859_1));
            else
                chunk(png, "iTXt", concat(e.getKey().getBytes(StandardCharsets.ISO_8859_1), new byte[]{0, 0, 0, 0, 0}, e.getValue().getBytes(StandardCharsets.UTF_8)));
        }
        chunk(png, "IDAT", raw.toByteArray());
        chunk(png, "IEND", new byte[0]);
        return png.toByteArray();
    }

    /** keyword, NUL, compression flag 0, method 0, empty language tag NUL, empty translated keyword NUL, then the text. */
    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) out.writeBytes(p);
        return out.toByteArray();
    }

    /** As diffusers' numpy_to_pil: (v * 255).round() in float32, numpy rounding half to even. */
    static int toByte(float v) {
        float c = Math.min(1f, Math.max(0f, v));
        return (int) Math.rint(c * 255f);
    }

    private static void chunk(ByteArrayOutputStream png, String type, byte[] data) throws IOException {
        DataOutputStream d = new DataOutputStream(png);
        d.writeInt(data.length);
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        d.write(t);
        d.write(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        d.writeInt((int) crc.getValue());
    }
}
