package dev.tornadodiffusion.parity;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.tensor.Compare;
import dev.tornadodiffusion.tensor.Compare.Check;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * The checks of a file-format case, where the same reference outputs are reproduced from several weight files: each
 * check is labelled with the file ({@code model.ckpt:unet/sample}) and uses meta.json's tolerance for its model
 * ({@code tolerance."unet/*"}, else {@code tolerance.max_abs}).
 */
final class FormatChecks {
    private final ParityCase c;
    private final List<Check> checks = new ArrayList<>();

    FormatChecks(ParityCase c) {
        this.c = c;
    }

    /** Compares {@code actual} with reference output {@code name}: every |a - b| within the model's tolerance. */
    void absolute(String label, String name, Tensor actual) {
        c.given(name);
        checks.add(Compare.absolute(label + ":" + name, actual, c.expected(name), tolerance(name)));
    }

    double tolerance(String name) {
        JsonNode perModel = c.meta.path("tolerance").path(name.substring(0, name.indexOf('/') + 1) + "*");
        return perModel.isNumber() ? perModel.doubleValue() : c.number("tolerance", "max_abs");
    }

    /** The reference outputs whose names start with {@code prefix}. */
    List<String> outputs(String prefix) {
        return c.outputNames().stream().filter(n -> n.startsWith(prefix)).sorted().toList();
    }

    /** Every check, plus a failing one for each reference output that was not compared. */
    List<Check> all() {
        List<Check> all = new ArrayList<>(checks);
        all.addAll(c.checks());
        return all;
    }
}
