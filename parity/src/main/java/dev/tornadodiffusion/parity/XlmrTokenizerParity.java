package dev.tornadodiffusion.parity;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.nn.tokenizers.Tokenizer;
import dev.tornadodiffusion.nn.tokenizers.TokenizerJson;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Compare;
import dev.tornadodiffusion.tensor.Compare.Check;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Json;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The xlmr-tokenizer reference case: the folder's tokenizer.json, and prompts.json with what transformers'
 * XLMRobertaTokenizerFast gave each prompt. One exact check per form over all prompts: normalized text,
 * pre-tokens, pieces, ids, input_ids, the max_length 64 ids and mask, and the max_length 512 ids (the sdxs call).
 * A text form is compared as its code points.
 */
public final class XlmrTokenizerParity {
    private XlmrTokenizerParity() {}

    public static List<Check> run(Path caseDir, Backend unused) throws IOException {
        Tokenizer tok = TokenizerJson.load(caseDir);
        JsonNode prompts = Json.read(caseDir.resolve("prompts.json")).path("prompts");
        if (!prompts.isArray() || prompts.isEmpty()) throw new IllegalArgumentException(caseDir.resolve("prompts.json") + ": no \"prompts\" list");
        String[] forms = {"normalized", "pre_tokens", "pieces", "ids", "input_ids", "input_ids_64", "attention_mask_64", "input_ids_512"};
        List<List<Long>> actual = new ArrayList<>(), expected = new ArrayList<>();
        for (String ignored : forms) { actual.add(new ArrayList<>()); expected.add(new ArrayList<>()); }
        for (JsonNode p : prompts) {
            String text = p.path("text").asText();
            String normalized = tok.normalize(text);
            int[] ids = tok.encodeIds(text), input = tok.encode(text);
            Tokenizer.Encoding e64 = tok.encode(text, 64), e512 = tok.encode(text, 512);
            List<String> pieces = new ArrayList<>();
            for (int id : ids) pieces.add(tok.idToToken(id));
            addText(actual.get(0), List.of(normalized));
            addText(actual.get(1), tok.preTokenize(normalized));
            addText(actual.get(2), pieces);
            addInts(actual.get(3), ids);
            addInts(actual.get(4), input);
            addInts(actual.get(5), e64.input_ids());
            addInts(actual.get(6), e64.attention_mask());
            addInts(actual.get(7), e512.input_ids());
            addText(expected.get(0), List.of(p.path("normalized").asText()));
            addText(expected.get(1), strings(p.path("pre_tokens")));
            addText(expected.get(2), strings(p.path("pieces")));
            addJson(expected.get(3), p.path("ids"));
            addJson(expected.get(4), p.path("input_ids"));
            addJson(expected.get(5), p.path("input_ids_64"));
            addJson(expected.get(6), p.path("attention_mask_64"));
            if (p.path("truncated_at_512").asBoolean()) addJson(expected.get(7), p.path("input_ids_512"));
            else {   // prompts.json lists the 512 form only where it truncates; elsewhere it is input_ids padded with <pad>
                int[] padded = new int[512];
                Arrays.fill(padded, tok.padId());
                for (int i = 0; i < p.path("input_ids").size(); i++) padded[i] = p.path("input_ids").get(i).asInt();
                addInts(expected.get(7), padded);
            }
        }
        List<Check> checks = new ArrayList<>();
        for (int f = 0; f < forms.length; f++)
            checks.add(Compare.exact(forms[f] + " (" + prompts.size() + " prompts)", tensor(actual.get(f)), tensor(expected.get(f))));
        return checks;
    }

    /** Each string's code points, then -1 as a separator, so a split in another place is a difference. */
    private static void addText(List<Long> out, List<String> strings) {
        for (String s : strings) {
            s.codePoints().forEach(cp -> out.add((long) cp));
            out.add(-1L);
        }
        out.add(-2L);
    }

    private static void addInts(List<Long> out, int[] ids) {
        for (int id : ids) out.add((long) id);
        out.add(-2L);
    }

    private static void addJson(List<Long> out, JsonNode ids) {
        for (JsonNode id : ids) out.add(id.asLong());
        out.add(-2L);
    }

    private static List<String> strings(JsonNode list) {
        List<String> out = new ArrayList<>();
        for (JsonNode s : list) out.add(s.asText());
        return out;
    }

    private static Tensor tensor(List<Long> values) {
        long[] a = values.stream().mapToLong(Long::longValue).toArray();
        return Tensor.ofLongs(a, a.length);
    }
}
