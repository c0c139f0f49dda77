package dev.tornadodiffusion.parity;

import dev.tornadodiffusion.nn.clip.ClipTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Compare;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Json;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The clip-tokenizer reference case: the folder's vocab.json + merges.txt, and prompts.json with the ids the
 * reference tokenizer gave each prompt (bare, with start/end tokens, padded with EOS and padded with "!" = 0).
 * One exact check per form, over all prompts concatenated.
 */
public final class ClipTokenizerParity {
    private ClipTokenizerParity() {}

    public static List<Compare.Check> run(Path caseDir, Backend unused) throws IOException {
        ClipTokenizer tok = ClipTokenizer.load(caseDir);
        JsonNode prompts = Json.read(caseDir.resolve("prompts.json")).path("prompts");
        if (!prompts.isArray() || prompts.isEmpty()) throw new IllegalArgumentException(caseDir.resolve("prompts.json") + ": no \"prompts\" list");
        int bang = tok.tokenId("!");
        List<long[]> ids = new ArrayList<>(), unpadded = new ArrayList<>(), padEot = new ArrayList<>(), padZero = new ArrayList<>();
        List<long[]> expIds = new ArrayList<>(), expUnpadded = new ArrayList<>(), expPadEot = new ArrayList<>(), expPadZero = new ArrayList<>();
        for (JsonNode p : prompts) {
            String text = p.path("text").asText();
            int[] bare = tok.tokenizeUnpadded(text, true);
            int[] zero = Arrays.copyOf(bare, tok.maxLength());
            Arrays.fill(zero, bare.length, zero.length, bang);
            ids.add(longs(tok.encode(text)));
            unpadded.add(longs(bare));
            padEot.add(longs(tok.tokenize(text)));
            padZero.add(longs(zero));
            expIds.add(longs(p.path("ids")));
            expUnpadded.add(longs(p.path("input_ids")));
            expPadEot.add(longs(p.path("input_ids_pad_eot")));
            expPadZero.add(longs(p.path("input_ids_pad_zero")));
        }
        return List.of(
                Compare.absolute("ids (" + prompts.size() + " prompts)", concat(ids), concat(expIds), 0),
                Compare.absolute("input_ids", concat(unpadded), concat(expUnpadded), 0),
                Compare.absolute("input_ids_pad_eot", concat(padEot), concat(expPadEot), 0),
                Compare.absolute("input_ids_pad_zero", concat(padZero), concat(expPadZero), 0));
    }

    private static long[] longs(int[] a) {
        return Arrays.stream(a).asLongStream().toArray();
    }

    private static long[] longs(JsonNode a) {
        long[] out = new long[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asLong();
        return out;
    }

    private static Tensor concat(List<long[]> rows) {
        long[] all = rows.stream().flatMapToLong(Arrays::stream).toArray();
        return Tensor.ofLongs(all, all.length);
    }
}
