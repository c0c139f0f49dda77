package dev.tornadodiffusion.weights.torch;

import dev.tornadodiffusion.weights.WeightFormatException;
import dev.tornadodiffusion.weights.torch.TorchPickle.Storage;
import org.apache.commons.compress.archivers.zip.ZipArchiveEntry;
import org.apache.commons.compress.archivers.zip.ZipFile;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;

/**
 * The zip container torch.save writes since torch 1.6: {@code <folder>/data.pkl} (the object), one record
 * {@code <folder>/data/<key>} of raw little-endian bytes per storage, {@code <folder>/version} and, since
 * torch 2.1, {@code <folder>/byteorder}. Sizes and offsets come from the central directory (torch writes
 * zero sizes in the local headers and ZIP64 end records). Stored records are views of the mapped file;
 * compressed ones are inflated, up to their declared size, into memory of the checkpoint's arena.
 */
final class TorchZip {
    /** Deflate cannot expand data by more than about 1032:1; a record claiming more is lying. */
    private static final long MAX_DEFLATE_RATIO = 1100;

    private final String source;
    private final ZipFile zip;
    private final MemorySegment file;
    private final Arena arena;

    private TorchZip(String source, ZipFile zip, MemorySegment file, Arena arena) {
        this.source = source;
        this.zip = zip;
        this.file = file;
        this.arena = arena;
    }

    /** Reads the archive in {@code channel}, whose whole content is mapped as {@code file}; closes the channel. */
    static TorchCheckpoint.Contents read(String source, SeekableByteChannel channel, MemorySegment file, Arena arena) {
        ZipFile zip;
        try {
            zip = ZipFile.builder().setSeekableByteChannel(channel).setIgnoreLocalFileHeader(true).get();
        } catch (IOException | RuntimeException e) {   // Commons Compress also throws unchecked exceptions on corrupt directories
            throw new WeightFormatException(source + ": not a readable zip archive (" + reason(e) + ")", e);
        }
        try (zip) {
            return new TorchZip(source, zip, file, arena).contents();
        } catch (IOException e) {
            throw new WeightFormatException(source + ": broken zip archive (" + reason(e) + ")", e);
        }
    }

    /** Commons Compress's description of what is wrong, on one line. */
    private static String reason(Exception e) {
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().replaceAll("\\s+", " ");
    }

    private TorchCheckpoint.Contents contents() throws IOException {
        String folder = folder();
        ZipArchiveEntry byteOrder = zip.getEntry(folder + "byteorder");
        if (byteOrder != null && (byteOrder.getSize() > 16 || !new String(record(byteOrder).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII).strip().equals("little")))
            throw new WeightFormatException(source + ": big-endian checkpoints are not supported (record " + Unpickler.quote(byteOrder.getName()) + ")");

        TorchPickle pickle = new TorchPickle(source);
        String pkl = folder + "data.pkl";
        Object root = new Unpickler(source, pkl, record(zip.getEntry(pkl)), 0, pickle).load();

        Map<Storage, MemorySegment> storages = new HashMap<>();
        for (Storage s : pickle.storages().values()) {
            String name = folder + "data/" + s.key();
            ZipArchiveEntry entry = zip.getEntry(name);
            if (entry == null) throw new WeightFormatException(source + ": missing record " + Unpickler.quote(name) + " for storage " + Unpickler.quote(s.key()));
            MemorySegment bytes = record(entry);
            long need = s.numel() * s.type().dtype().byteSize;
            if (bytes.byteSize() != need)
                throw new WeightFormatException(source + ": record " + Unpickler.quote(name) + " has size " + bytes.byteSize() + " bytes but its "
                        + s.type() + " of " + s.numel() + " elements needs " + need);
            storages.put(s, bytes);
        }
        return new TorchCheckpoint.Contents(root, storages);
    }

    /** The folder the records live in: the file stem for torch.save(obj, path), "archive" for a buffer. */
    private String folder() {
        String folder = null;
        for (ZipArchiveEntry e : Collections.list(zip.getEntries())) {
            String name = e.getName();
            int slash = name.indexOf('/');
            if (slash <= 0 || !name.substring(slash + 1).equals("data.pkl")) continue;
            if (folder != null) throw new WeightFormatException(source + ": several data.pkl records (" + Unpickler.quote(folder + "data.pkl") + ", " + Unpickler.quote(name) + ")");
            folder = name.substring(0, slash + 1);
        }
        if (folder == null) throw new WeightFormatException(source + ": zip archive without a '<folder>/data.pkl' record: not a torch checkpoint");
        return folder;
    }

    /** The bytes of one record: a slice of the mapped file when stored, inflated into the arena when deflated. */
    private MemorySegment record(ZipArchiveEntry e) throws IOException {
        long size = e.getSize(), compressed = e.getCompressedSize();
        if (size < 0 || compressed < 0) throw new WeightFormatException(source + ": record " + Unpickler.quote(e.getName()) + " has no size in the central directory");
        return switch (e.getMethod()) {
            case ZipArchiveEntry.STORED -> {
                if (size != compressed) throw new WeightFormatException(source + ": stored record " + Unpickler.quote(e.getName()) + " has two different sizes");
                yield file.asSlice(dataOffset(e), size);
            }
            case ZipArchiveEntry.DEFLATED -> inflate(e, size, compressed);
            default -> throw new WeightFormatException(source + ": record " + Unpickler.quote(e.getName()) + " uses unsupported compression method " + e.getMethod());
        };
    }

    /** Where a record's data starts: after its local header, whose name and extra field (torch's alignment padding) vary. */
    private long dataOffset(ZipArchiveEntry e) {
        long header = e.getLocalHeaderOffset();
        if (header < 0 || header > file.byteSize() - 30 || file.get(ValueLayout.JAVA_INT_UNALIGNED, header) != 0x04034b50)
            throw new WeightFormatException(source + ": record " + Unpickler.quote(e.getName()) + " has no local header at offset " + header);
        int nameLength = file.get(ValueLayout.JAVA_SHORT_UNALIGNED, header + 26) & 0xffff;
        int extraLength = file.get(ValueLayout.JAVA_SHORT_UNALIGNED, header + 28) & 0xffff;
        long start = header + 30 + nameLength + extraLength;
        if (start > file.byteSize() - e.getCompressedSize())
            throw new WeightFormatException(source + ": record " + Unpickler.quote(e.getName()) + " extends beyond the end of the file");
        return start;
    }

    private MemorySegment inflate(ZipArchiveEntry e, long size, long compressed) throws IOException {
        dataOffset(e);   // the compressed bytes must be in the file, which bounds what they can claim to inflate to
        if (size > compressed * MAX_DEFLATE_RATIO + 1024)
            throw new WeightFormatException(source + ": record " + Unpickler.quote(e.getName()) + " claims " + size + " bytes from " + compressed + " compressed");
        MemorySegment out = arena.allocate(size);
        byte[] buffer = new byte[1 << 16];
        long n = 0;
        try (InputStream in = zip.getInputStream(e)) {
            for (int r; (r = in.read(buffer, 0, (int) Math.min(buffer.length, size - n + 1))) > 0; n += r) {
                if (n + r > size) throw new WeightFormatException(source + ": record " + Unpickler.quote(e.getName()) + " inflates to more than its " + size + " bytes");
                MemorySegment.copy(buffer, 0, out, ValueLayout.JAVA_BYTE, n, r);
            }
        }
        if (n != size) throw new WeightFormatException(source + ": record " + Unpickler.quote(e.getName()) + " inflates to " + n + " of its " + size + " bytes");
        return out;
    }
}
