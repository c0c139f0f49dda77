package dev.tornadodiffusion.examples;

import dev.tornadodiffusion.diffusion.image.Png;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code generate --from-png FILE}: the settings an image's "parameters" text records (A1111's layout: the prompt,
 * "Negative prompt: ...", then "Key: value, ..." on the last line) become generate options; options given on the
 * command line win. Keys that do not change the image (Model, Version) are left out.
 */
final class FromPng {
    private FromPng() {}

    /** {@code argv} with {@code --from-png FILE} replaced by the options it records, placed first so that later ones override. */
    static String[] expand(String[] argv) throws IOException {
        List<String> rest = new ArrayList<>();
        Path png = null;
        for (int i = 0; i < argv.length; i++) {
            if (argv[i].equals("--from-png") || argv[i].startsWith("--from-png=")) {
                String v = argv[i].contains("=") ? argv[i].substring(argv[i].indexOf('=') + 1) : i + 1 < argv.length ? argv[++i] : null;
                if (v == null) throw new UsageException("option --from-png needs a value");
                png = Path.of(v);
            } else rest.add(argv[i]);
        }
        if (png == null) return argv;
        if (!Files.isRegularFile(png)) throw new NoSuchFileException(png.toString());
        String text = Png.readText(png).get("parameters");
        if (text == null) throw new UsageException("--from-png " + png + ": the image has no 'parameters' text");
        List<String> options = options(text, png);
        options.addAll(rest);
        return options.toArray(String[]::new);
    }

    static List<String> options(String text, Path source) {
        List<String> lines = new ArrayList<>(List.of(text.split("\n", -1)));
        String settings = lines.removeLast();
        if (!settings.startsWith("Steps: ")) throw new UsageException("--from-png " + source + ": its parameters have no 'Steps: ...' line");
        StringBuilder prompt = new StringBuilder(), negative = null;
        for (String line : lines) {
            if (negative == null && line.startsWith("Negative prompt: ")) negative = new StringBuilder(line.substring("Negative prompt: ".length()));
            else if (negative != null) negative.append('\n').append(line);
            else prompt.append(prompt.isEmpty() ? "" : "\n").append(line);
        }
        Map<String, String> kv = new LinkedHashMap<>();
        for (String pair : settings.split(", ")) {
            int colon = pair.indexOf(": ");
            if (colon > 0) kv.put(pair.substring(0, colon), pair.substring(colon + 2));
        }
        List<String> o = new ArrayList<>(List.of("--prompt", prompt.toString()));
        if (negative != null) o.addAll(List.of("--negative", negative.toString()));
        for (var e : kv.entrySet()) {
            String v = e.getValue();
            switch (e.getKey()) {
                case "Steps" -> o.addAll(List.of("--steps", v));
                case "Sampler" -> {
                    Samplers.Sampler s = Samplers.find(Samplers.forPipeline(""), v);
                    o.addAll(List.of("--sampler", s == null ? v : s.id()));
                }
                case "CFG scale" -> o.addAll(List.of("--guidance", v));
                case "Seed" -> o.addAll(List.of("--seed", v));
                case "Size" -> {
                    String[] wh = v.split("x");
                    if (wh.length != 2) throw new UsageException("--from-png " + source + ": Size '" + v + "' is not WIDTHxHEIGHT");
                    o.addAll(List.of("--width", wh[0], "--height", wh[1]));
                }
                case "Batch size" -> o.addAll(List.of("--batch", v));
                case "Denoising strength" -> o.addAll(List.of("--strength", v));
                case "Denoising end" -> o.addAll(List.of("--denoising-end", v));
                case "Guidance rescale" -> o.addAll(List.of("--guidance-rescale", v));
                case "Clip skip" -> o.addAll(List.of("--clip-skip", String.valueOf(Integer.parseInt(v) - 1)));
                default -> { }  // Model, Version and keys of other tools do not map to an option
            }
        }
        return o;
    }
}
