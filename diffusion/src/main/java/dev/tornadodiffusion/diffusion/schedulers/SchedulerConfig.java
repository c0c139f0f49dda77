package dev.tornadodiffusion.diffusion.schedulers;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tornadodiffusion.weights.JsonConfig;
import dev.tornadodiffusion.weights.Json;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A {@code scheduler_config.json} (what diffusers' {@code save_config} writes), read with the defaults of the
 * scheduler class reading it. As in diffusers' {@code from_config}, keys a class does not know are ignored and
 * missing keys (or {@code null}) take the class default; a value of the wrong type is an error naming the file and
 * key. {@code _class_name} picks the class when the caller names none.
 */
public final class SchedulerConfig extends JsonConfig {

    private SchedulerConfig(JsonNode json, String source) {
        super(json, source);
    }

    /** Reads a scheduler config file. */
    public static SchedulerConfig read(Path file) throws IOException {
        return new SchedulerConfig(Json.read(file), file.toString());
    }

    /** Parses config JSON text; {@code source} names it in error messages. */
    public static SchedulerConfig parse(String json, String source) {
        return new SchedulerConfig(Json.parse(json, source), source);
    }

    /** Wraps an already parsed config object (copied); {@code source} names it in error messages. */
    public static SchedulerConfig of(JsonNode json, String source) {
        return new SchedulerConfig(json.deepCopy(), source);
    }

    /** {@code _class_name}, or null when absent. */
    public String className() {
        return getString("_class_name", null);
    }
}
