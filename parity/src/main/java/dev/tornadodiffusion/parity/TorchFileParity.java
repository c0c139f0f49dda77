package dev.tornadodiffusion.parity;

import dev.tornadodiffusion.weights.JsonConfig;
import dev.tornadodiffusion.nn.tld.Denoiser;
import dev.tornadodiffusion.nn.tld.DenoiserConfig;
import dev.tornadodiffusion.tensor.Backend;
import dev.tornadodiffusion.tensor.Compare.Check;
import dev.tornadodiffusion.weights.torch.TorchCheckpoint;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Runs the {@code pth-tld} case: the TLD denoiser's own {@code torch.save(state_dict)} files (zip and legacy format),
 * each read by {@link TorchCheckpoint}, loaded strictly into the Denoiser and run through the tld-denoiser checks
 * (forward and both samplers); check names carry the file name.
 */
public final class TorchFileParity {
    private TorchFileParity() {}

    public static List<Check> run(Path caseDir, Backend be) throws Exception {
        List<Path> files;
        try (Stream<Path> s = Files.list(caseDir)) {
            files = s.filter(p -> p.getFileName().toString().endsWith(".pth")).sorted().toList();
        }
        if (files.isEmpty()) throw new IllegalArgumentException(caseDir + ": no .pth file");
        DenoiserConfig config = DenoiserConfig.from(JsonConfig.read(caseDir.resolve("config.json")));
        List<Check> checks = new ArrayList<>();
        for (Path file : files)
            try (ParityCase c = ParityCase.open(caseDir); TorchCheckpoint weights = TorchCheckpoint.load(file);
                 Denoiser model = Denoiser.load(config, weights, be)) {
                String label = file.getFileName() + ":";
                for (Check k : TldParity.run(c, model, be))
                    checks.add(new Check(label + k.name(), k.maxAbs(), k.maxRel(), k.tolerance(), k.pass(), k.problem()));
            }
        return checks;
    }
}
