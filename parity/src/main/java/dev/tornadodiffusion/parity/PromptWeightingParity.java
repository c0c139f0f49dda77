package dev.tornadodiffusion.parity;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.diffusion.prompts.PromptChunks;
import dev.tornadodiffusion.diffusion.prompts.PromptParser;
import dev.tornadodiffusion.diffusion.prompts.PromptParser.Piece;
import dev.tornadodiffusion.diffusion.prompts.WeightedPromptEncoder;
import dev.tornadodiffusion.nn.clip.ClipTextModel;
import dev.tornadodiffusion.nn.clip.ClipTokenizer;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Compare.Check;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Json;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs the {@code prompt-weighting} case: {@link PromptParser} on every prompt of {@code prompts.json} (texts and
 * weights exact); for the conditioning prompts, with the {@code clip-tokenizer} vocabulary and the
 * {@code clip-text-quickgelu} model, the chunk tokens and multipliers (exact), the raw chunk outputs, the weighted
 * conditioning at clip skip 1 and 2, and one batched call, against meta.json's tolerance.
 */
public final class PromptWeightingParity {
    private PromptWeightingParity() {}

    public static List<Check> run(Path caseDir, Backend backend) throws IOException {
        ClipTokenizer tokenizer = ClipTokenizer.load(caseDir.resolveSibling("clip-tokenizer"));
        try (ParityCase c = ParityCase.outputsOnly(caseDir, "outputs.safetensors");
             ClipTextModel model = ClipTextModel.load(caseDir.resolveSibling("clip-text-quickgelu"), backend, null)) {
            List<Check> parse = parseChecks(Json.read(caseDir.resolve("prompts.json")).path("prompts"));
            double tol = c.number("tolerance", "cond / z_raw / clip_skip2");

            WeightedPromptEncoder.TextEncoder last = ids -> new Tensor[]{backend.run(model, x -> model.forward(x[0]).last_hidden_state(), ids)};
            WeightedPromptEncoder.TextEncoder skip2 = ids -> new Tensor[]{backend.run(model,
                    x -> model.final_layer_norm.forward(model.forward(x[0]).hiddenState(-2)), ids)};
            List<String> texts = new ArrayList<>();
            for (JsonNode p : c.meta.path("conditioning_prompts")) {
                String text = p.path("text").asText();
                texts.add(text);
                String pre = "prompt" + p.path("index").asInt() + "/";
                PromptChunks chunks = PromptChunks.of(text, tokenizer, true);
                int n = chunks.chunks().size();
                long[] tokens = new long[n * 77];
                float[] multipliers = new float[n * 77];
                for (int i = 0; i < n; i++) {
                    for (int t = 0; t < 77; t++) tokens[i * 77 + t] = chunks.chunks().get(i).tokens()[t];
                    System.arraycopy(chunks.chunks().get(i).multipliers(), 0, multipliers, i * 77, 77);
                }
                int expectedCount = p.path("token_count").asInt();
                boolean countOk = chunks.tokenCount() == expectedCount;
                parse.add(new Check(pre + "token_count", Math.abs(chunks.tokenCount() - expectedCount), 0, "exact", countOk,
                        countOk ? null : chunks.tokenCount() + " tokens, expected " + expectedCount));
                c.exact(pre + "tokens", Tensor.ofLongs(tokens, n, 77));
                c.exact(pre + "multipliers", Tensor.of(multipliers, n, 77));

                List<Tensor> raw = new ArrayList<>();
                WeightedPromptEncoder.TextEncoder recording = ids -> {
                    Tensor[] out = last.encode(ids);
                    raw.add(out[0]);
                    return out;
                };
                c.absolute(pre + "cond", WeightedPromptEncoder.encode(List.of(chunks), tokenizer, recording).hiddenStates(), tol);
                c.absolute(pre + "z_raw", backend.concat(1, raw.toArray(Tensor[]::new)), tol);
                c.absolute(pre + "clip_skip2/cond", WeightedPromptEncoder.encode(List.of(chunks), tokenizer, skip2).hiddenStates(), tol);
            }
            List<PromptChunks> batch = new ArrayList<>();
            for (JsonNode i : c.meta.path("batch_call").path("prompt_indices")) batch.add(PromptChunks.of(texts.get(i.asInt()), tokenizer, true));
            c.absolute("batch/cond", WeightedPromptEncoder.encode(batch, tokenizer, last).hiddenStates(), tol);

            List<Check> all = new ArrayList<>(parse);
            all.addAll(c.checks());
            return all;
        }
    }

    /** One check per prompts.json entry: the parsed pieces, texts and weights exactly. */
    private static List<Check> parseChecks(JsonNode prompts) {
        List<Check> checks = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            JsonNode p = prompts.get(i);
            List<Piece> actual = PromptParser.parse(p.path("text").asText());
            List<Piece> expected = new ArrayList<>();
            for (JsonNode e : p.path("parsed")) expected.add(new Piece(e.get(0).asText(), e.get(1).asDouble()));
            boolean pass = actual.equals(expected);
            checks.add(new Check("parse[" + i + "]", pass ? 0 : Double.NaN, pass ? 0 : Double.NaN, "exact", pass,
                    pass ? null : "got " + actual + ", expected " + expected));
        }
        return checks;
    }
}
