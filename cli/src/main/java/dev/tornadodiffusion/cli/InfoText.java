package dev.tornadodiffusion.cli;

import dev.tornadodiffusion.diffusion.image.Png;
import dev.tornadodiffusion.diffusion.pipelines.LoadOptions;
import dev.tornadodiffusion.diffusion.schedulers.Samplers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The "parameters" text (A1111's infotext: the prompt, "Negative prompt: ...", then "Key: value, ..." on the last line,
 * a value with a comma in double quotes). {@link #withLoad} adds what the pipeline's own text cannot know (LoRAs with
 * their scales, a replacement UNet, the weight variant, a tiny VAE, the refiner and its switch point, a literal
 * prompt); {@link #expand} turns a PNG's text back into generate options for {@code --from-png FILE}, options given
 * on the command line winning. Keys that do not change the image (Model, Version, Batch size) are not read back.
 */
final class InfoText {
    private InfoText() {}

    /** The pipeline's parameters text with the load options, the refiner and the prompt parsing that also shaped the image. */
    static Map<String, String> withLoad(Map<String, String> parameters, LoadOptions options, String refiner, Float switchAt, boolean literalPrompt) {
        StringBuilder sb = new StringBuilder(parameters.get("parameters"));
        if (!options.loras().isEmpty())
            sb.append(", Lora: ").append(quote(String.join(",", options.loras().stream().map(l -> l.file() + ":" + l.scale()).toList())));
        if (options.unetFile() != null) sb.append(", UNet: ").append(quote(options.unetFile().toString()));
        if (options.variant() != null) sb.append(", Variant: ").append(quote(options.variant()));
        if (options.vaeTiny() != null) sb.append(", Tiny VAE: ").append(quote(options.vaeTiny().toString()));
        if (refiner != null) sb.append(", Refiner: ").append(quote(refiner)).append(", Refiner switch at: ").append(switchAt);
        if (literalPrompt) sb.append(", Literal prompt: true");
        Map<String, String> out = new LinkedHashMap<>(parameters);
        out.put("parameters", sb.toString());
        return out;
    }

    private static String quote(String v) {
        return v.contains(",") || v.contains("\"") ? "\"" + v.replace("\\", "\\\\").replace("\"", "\\\"") + "\"" : v;
    }

    /** "Key: value" pairs of the settings line, honouring quoted values. */
    static Map<String, String> pairs(String line) {
        Map<String, String> kv = new LinkedHashMap<>();
        Matcher m = PAIR.matcher(line);
        while (m.find()) {
            String v = m.group(2).trim();
            if (v.startsWith("\"") && v.endsWith("\"") && v.length() > 1) v = v.substring(1, v.length() - 1).replaceAll("\\\\(.)", "$1");
            kv.put(m.group(1).trim(), v);
        }
        return kv;
    }

    private static final Pattern PAIR = Pattern.compile("\\s*([\\w][\\w \\-/+]*):\\s*(\"(?:\\\\.|[^\\\\\"])*\"|[^,]*)(?:,|$)");

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
        String text = Outputs.extension(png.toString()).equals("png") ? Png.readText(png).get("parameters") : Outputs.jpegComment(png);
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
        Map<String, String> kv = pairs(settings);
        List<String> o = new ArrayList<>(List.of("--prompt", prompt.toString()));
        if (negative != null) o.addAll(List.of("--negative", negative.toString()));
        for (var e : kv.entrySet()) {
            String v = e.getValue();
            switch (e.getKey()) {
                case "Steps" -> o.addAll(List.of("--steps", v));
                case "Sampler" -> {
                    // A1111 1.9+ writes the sigma schedule apart: "Sampler: DPM++ 2M, Schedule type: Karras"
                    String schedule = kv.getOrDefault("Schedule type", "Automatic");
                    if (!schedule.equals("Automatic") && !schedule.equals("Karras"))
                        throw new UsageException("--from-png " + source + ": Schedule type '" + schedule + "' is not supported (Automatic, Karras)");
                    if (schedule.equals("Karras") && !v.endsWith(" Karras")) v += " Karras";
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
                case "Denoising strength" -> o.addAll(List.of("--strength", v));
                case "Denoising end", "Refiner switch at" -> o.addAll(List.of("--denoising-end", v));
                case "Lora" -> o.addAll(List.of("--lora", v));
                case "UNet" -> o.addAll(List.of("--unet", v));
                case "Refiner" -> o.addAll(List.of("--refiner", v));
                case "Variant" -> o.addAll(List.of("--variant", v));
                case "Tiny VAE" -> o.addAll(List.of("--vae-tiny", v));
                case "Literal prompt" -> { if (v.equals("true")) o.add("--literal-prompt"); }
                case "Guidance rescale" -> o.addAll(List.of("--guidance-rescale", v));
                case "Clip skip" -> o.addAll(List.of("--clip-skip", String.valueOf(Integer.parseInt(v) - 1)));
                // Batch size: an image's own seed makes it alone; Model, Version and other tools' keys map to no option
                default -> { }
            }
        }
        return o;
    }
}
