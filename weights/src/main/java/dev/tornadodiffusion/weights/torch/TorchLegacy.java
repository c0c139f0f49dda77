package dev.tornadodiffusion.weights.torch;

import dev.tornadodiffusion.weights.WeightFormatException;
import dev.tornadodiffusion.weights.torch.TorchPickle.Storage;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.math.BigInteger;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The format of torch.save before torch 1.6 (and with _use_new_zipfile_serialization=False): five pickles
 * back to back (magic number, protocol version 1001, sys_info, the object, the list of storage keys), then
 * for each key of that list an int64 element count and the storage's raw bytes, unaligned and unnamed.
 */
final class TorchLegacy {
    static final BigInteger MAGIC = new BigInteger("1950a86a20f9469cfc6c", 16);
    static final long PROTOCOL_VERSION = 1001;

    private TorchLegacy() { }

    static TorchCheckpoint.Contents read(String source, MemorySegment file) {
        TorchPickle pickle = new TorchPickle(source);
        Unpickler in = new Unpickler(source, null, file, 0, pickle);
        if (!MAGIC.equals(in.load()))
            throw new WeightFormatException(source + ": not a PyTorch checkpoint (neither a zip archive nor a legacy file's magic number)");
        if (!Long.valueOf(PROTOCOL_VERSION).equals(in.load()))
            throw new WeightFormatException(source + ": unsupported legacy protocol version (expected " + PROTOCOL_VERSION + ")");
        if (!(in.load() instanceof Map<?, ?> sysInfo && Boolean.TRUE.equals(sysInfo.get("little_endian"))))
            throw new WeightFormatException(source + ": big-endian or unknown byte order (sys_info.little_endian is not True)");
        Object root = in.load();
        if (!(in.load() instanceof List<?> keys))
            throw new WeightFormatException(source + ": the storage key list after the object is missing");

        Map<Storage, MemorySegment> storages = new HashMap<>();
        long pos = in.position();
        for (Object key : keys) {
            if (!(key instanceof String k)) throw new WeightFormatException(source + ": storage key list holds " + Unpickler.typeName(key));
            Storage s = pickle.storages().get(k);
            if (s == null) throw new WeightFormatException(source + ": storage key list names '" + k + "', which no tensor uses");
            if (storages.containsKey(s)) throw new WeightFormatException(source + ": storage " + Unpickler.quote(k) + " is listed twice");
            if (pos > file.byteSize() - 8) throw new WeightFormatException(source + ": truncated before the data of storage " + Unpickler.quote(k));
            long count = file.get(ValueLayout.JAVA_LONG_UNALIGNED, pos);
            if (count != s.numel())
                throw new WeightFormatException(source + ": storage " + Unpickler.quote(k) + " has size " + count + " in the file but " + s.numel() + " in its persistent id");
            long bytes = count * s.type().dtype().byteSize;
            if (bytes > file.byteSize() - pos - 8) throw new WeightFormatException(source + ": truncated in the data of storage " + Unpickler.quote(k));
            storages.put(s, file.asSlice(pos + 8, bytes));
            pos += 8 + bytes;
        }
        for (Storage s : pickle.storages().values())
            if (!storages.containsKey(s)) throw new WeightFormatException(source + ": storage " + Unpickler.quote(s.key()) + " has no data (not in the storage key list)");
        return new TorchCheckpoint.Contents(root, storages);
    }
}
