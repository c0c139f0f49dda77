package dev.tornadodiffusion.parity;

import dev.tornadodiffusion.nn.xlmr.XlmRobertaModel;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Compare.Check;
import dev.tornadodiffusion.tensor.Tensor;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * The xlmr-text reference case: XLMRobertaModel from config.json + model.safetensors on the padded prompts with
 * their masks (every hidden state, last_hidden_state, CLS), each prompt alone without padding (its CLS), and the
 * position ids; against meta.json's {@code tolerance.max_abs}.
 */
public final class XlmrTextParity {
    private XlmrTextParity() {}

    public static List<Check> run(Path caseDir, Backend backend) throws Exception {
        try (ParityCase c = ParityCase.open(caseDir); XlmRobertaModel model = XlmRobertaModel.load(caseDir, backend)) {
            double tol = c.number("tolerance", "max_abs");
            Tensor ids = c.input("input_ids"), mask = c.input("attention_mask");
            XlmRobertaModel.Output out = model.forward(ids, mask);
            for (int i = 0; i < out.hidden_states().size(); i++) c.absolute("hidden_states." + i, out.hidden_states().get(i), tol);
            c.absolute("last_hidden_state", out.last_hidden_state(), tol);
            c.absolute("cls", out.cls(), tol);
            c.exact("debug/position_ids", Tensor.ofLongs(XlmRobertaModel.positionIds(ids.toLongArray(), ids.dim(1), model.config.pad_token_id()), ids.shape()));
            // each prompt alone, unpadded: its tokens are the mask's ones
            int b = ids.dim(0), n = ids.dim(1);
            long[] allIds = ids.toLongArray(), allMask = mask.toLongArray();
            Tensor[] cls = new Tensor[b];
            for (int i = 0; i < b; i++) {
                int len = 0;
                while (len < n && allMask[i * n + len] != 0) len++;
                long[] row = Arrays.copyOfRange(allIds, i * n, i * n + len);
                cls[i] = model.forward(Tensor.ofLongs(row, 1, len), null).cls();
            }
            c.absolute("unpadded/cls", backend.concat(0, cls), tol);
            return c.checks();
        }
    }
}
