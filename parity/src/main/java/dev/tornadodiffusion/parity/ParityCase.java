package dev.tornadodiffusion.parity;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.tensor.Compare;
import dev.tornadodiffusion.tensor.Compare.Check;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Json;
import dev.tornadodiffusion.weights.Safetensors;
import dev.tornadodiffusion.weights.StateDict;
import dev.tornadodiffusion.weights.WeightFormatException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * One reference case folder (see the fixtures' README): {@code meta.json}, {@code inputs.safetensors},
 * {@code outputs.safetensors} next to the model files. The parity runners read it, compare every output they
 * produce with {@link #exact} / {@link #absolute} / {@link #relative} / {@link #mixed}, and {@link #checks()} adds a
 * failing check for any reference output that was not compared.
 */
public final class ParityCase implements AutoCloseable {
    public final Path dir;
    public final JsonNode meta;
    private final StateDict inputs, outputs;   // inputs is null for a case without inputs
    private final List<Check> checks = new ArrayList<>();
    private final Set<String> compared = new HashSet<>();

    private ParityCase(Path dir, JsonNode meta, StateDict inputs, StateDict outputs) {
        this.dir = dir;
        this.meta = meta;
        this.inputs = inputs;
        this.outputs = outputs;
    }

    public static ParityCase open(Path dir) throws IOException {
        JsonNode meta = Json.read(dir.resolve("meta.json"));
        Safetensors inputs = Safetensors.open(dir.resolve("inputs.safetensors"));
        try {
            return new ParityCase(dir, meta, inputs, Safetensors.open(dir.resolve("outputs.safetensors")));
        } catch (IOException | RuntimeException e) {
            inputs.close();
            throw e;
        }
    }

    /** A case without inputs whose reference tensors are all in {@code outputsFile} (scheduler trajectories, generator draws). */
    public static ParityCase outputsOnly(Path dir, String outputsFile) throws IOException {
        JsonNode meta = Json.read(dir.resolve("meta.json"));
        return new ParityCase(dir, meta, null, Safetensors.open(dir.resolve(outputsFile)));
    }

    public Tensor input(String name) {
        if (inputs == null) throw new WeightFormatException(dir + ": the case has no inputs (looking for '" + name + "')");
        return inputs.get(name);
    }

    public Set<String> inputNames() { return inputs == null ? Set.of() : inputs.keys(); }

    public Tensor expected(String name) { return outputs.get(name); }

    public Set<String> outputNames() { return outputs.keys(); }

    /** A number from meta.json at the given path of field names, e.g. {@code tolerance("tolerance", "max_abs")}. */
    public double number(String... path) {
        JsonNode n = meta;
        for (String p : path) n = n.path(p);
        if (!n.isNumber()) throw new WeightFormatException(dir.resolve("meta.json") + ": no number at '" + String.join(".", path) + "'");
        return n.doubleValue();
    }

    /** An integer from meta.json at the given path of field names, e.g. {@code integer("seeds", "x_init")}. */
    public long integer(String... path) {
        JsonNode n = meta;
        for (String p : path) n = n.path(p);
        if (!n.isIntegralNumber() || !n.canConvertToLong()) throw new WeightFormatException(dir.resolve("meta.json") + ": no integer at '" + String.join(".", path) + "'");
        return n.longValue();
    }

    /** Compares {@code actual} with the reference output {@code name}: every element equal. */
    public void exact(String name, Tensor actual) {
        add(Compare.exact(name, actual, expected(name)));
    }

    /** Compares {@code actual} with the reference output {@code name}: every |a - b| <= tol. */
    public void absolute(String name, Tensor actual, double tol) {
        add(Compare.absolute(name, actual, expected(name), tol));
    }

    /** Compares {@code actual} with the reference output {@code name}: every |a - b| <= rel * (1 + |b|). */
    public void relative(String name, Tensor actual, double rel) {
        add(Compare.relative(name, actual, expected(name), rel));
    }

    /** Compares {@code actual} with the reference output {@code name}: every |a - b| <= atol + rtol * |b|. */
    public void mixed(String name, Tensor actual, double atol, double rtol) {
        add(Compare.mixed(name, actual, expected(name), atol, rtol));
    }

    /** Declares a reference output that is an input of another computation (e.g. saved noise), not something to reproduce. */
    public void given(String name) { compared.add(name); }

    /** Records a check the caller made of the reference output {@code c.name()}. */
    public void add(Check c) {
        compared.add(c.name());
        checks.add(c);
    }

    /** The checks so far, plus a failing one for each reference output nothing was compared with. */
    public List<Check> checks() {
        List<Check> all = new ArrayList<>(checks);
        for (String name : outputs.keys())
            if (!compared.contains(name)) all.add(new Check(name, Double.NaN, Double.NaN, "-", false, "not compared"));
        return all;
    }

    @Override
    public void close() {
        if (inputs != null) inputs.close();
        outputs.close();
    }
}
