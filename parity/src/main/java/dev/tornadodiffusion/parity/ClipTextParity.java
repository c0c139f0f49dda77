package dev.tornadodiffusion.parity;

import dev.tornadodiffusion.nn.clip.ClipTextModel;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Compare.Check;

import java.nio.file.Path;
import java.util.List;

/**
 * Runs a {@code clip-text-*} reference case: the text model from {@code config.json} + {@code model.safetensors}
 * (with projection as config.json's architectures says) on {@code input_ids} and {@code input_ids_pad0};
 * every hidden state, last_hidden_state, pooler_output and text_embeds against meta.json's {@code tolerance.max_abs}.
 */
public final class ClipTextParity {
    private ClipTextParity() {}

    public static List<Check> run(Path caseDir, Backend backend) throws Exception {
        try (ParityCase c = ParityCase.open(caseDir); ClipTextModel model = ClipTextModel.load(caseDir, backend, null)) {
            double tol = c.number("tolerance", "max_abs");
            for (String[] run : new String[][]{{"input_ids", ""}, {"input_ids_pad0", "pad0/"}}) {
                ClipTextModel.Output out = model.forward(c.input(run[0]));
                String pre = run[1];
                for (int i = 0; i < out.hidden_states().size(); i++)
                    c.absolute(pre + "hidden_states." + i, out.hidden_states().get(i), tol);
                c.absolute(pre + "last_hidden_state", out.last_hidden_state(), tol);
                c.absolute(pre + "pooler_output", out.pooler_output(), tol);
                if (out.text_embeds() != null) c.absolute(pre + "text_embeds", out.text_embeds(), tol);
            }
            return c.checks();
        }
    }
}
