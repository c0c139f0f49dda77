package dev.tornadodiffusion.diffusion.schedulers;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The sampler names users type, each a diffusers scheduler class plus the config it needs (diffusers' own table
 * of A1111 equivalents): AUTOMATIC1111's names ({@code "DPM++ 2M Karras"}, {@code "Euler a"}, {@code "DPM2 a"}),
 * their old API names ({@code k_dpmpp_2m}), short names ({@code dpm++2m-karras}, {@code euler-a}) and the class
 * names themselves. " Karras" / "-karras" selects Karras sigmas where the class has them; "-trailing" sets
 * {@code timestep_spacing} "trailing", as few-step models (SDXL-Lightning, Turbo) are sampled. The scheduler is
 * built from the model's own scheduler config with these keys replaced ({@code X.from_config(s.config)}).
 */
public final class Samplers {
    private Samplers() {}

    /** One sampler: its A1111 name, the other names it answers to, the class and the config keys it sets. */
    private record Entry(String name, List<String> aliases, String className, Map<String, Object> config) {}

    private static final List<Entry> ENTRIES = List.of(
            new Entry("Euler", List.of("euler", "k_euler"), "EulerDiscreteScheduler", Map.of()),
            new Entry("Euler a", List.of("euler-a", "k_euler_a", "k_euler_ancestral"), "EulerAncestralDiscreteScheduler", Map.of()),
            new Entry("Heun", List.of("heun", "k_heun"), "HeunDiscreteScheduler", Map.of()),
            new Entry("DPM2", List.of("dpm2", "k_dpm_2"), "KDPM2DiscreteScheduler", Map.of()),
            new Entry("DPM2 a", List.of("dpm2-a", "k_dpm_2_a"), "KDPM2AncestralDiscreteScheduler", Map.of()),
            new Entry("DPM++ 2M", List.of("dpm++2m", "k_dpmpp_2m"), "DPMSolverMultistepScheduler",
                    Map.of("algorithm_type", "dpmsolver++", "solver_order", 2)),
            new Entry("DPM++ 2M SDE", List.of("dpm++2m-sde", "k_dpmpp_2m_sde"), "DPMSolverMultistepScheduler",
                    Map.of("algorithm_type", "sde-dpmsolver++", "solver_order", 2)),
            new Entry("DPM++ 2S", List.of("dpm++2s", "dpm-singlestep"), "DPMSolverSinglestepScheduler",
                    Map.of("algorithm_type", "dpmsolver++", "solver_order", 2)),
            new Entry("DEIS", List.of("deis"), "DEISMultistepScheduler", Map.of()),
            new Entry("UniPC", List.of("unipc"), "UniPCMultistepScheduler", Map.of()),
            new Entry("DDIM", List.of("ddim"), "DDIMScheduler", Map.of()),
            new Entry("PLMS", List.of("pndm", "plms"), "PNDMScheduler", Map.of()),
            new Entry("DDPM", List.of("ddpm"), "DDPMScheduler", Map.of()),
            new Entry("LCM", List.of("lcm"), "LCMScheduler", Map.of()),
            new Entry("TCD", List.of("tcd"), "TCDScheduler", Map.of()));

    /** The classes with {@code use_karras_sigmas} (diffusers 0.27.2). */
    private static final Set<String> KARRAS = Set.of("EulerDiscreteScheduler", "HeunDiscreteScheduler", "KDPM2DiscreteScheduler",
            "KDPM2AncestralDiscreteScheduler", "DPMSolverMultistepScheduler", "DPMSolverSinglestepScheduler",
            "DEISMultistepScheduler", "UniPCMultistepScheduler");

    /** The classes with {@code timestep_spacing}. */
    private static final Set<String> SPACING = Set.of("DDPMScheduler", "DDIMScheduler", "PNDMScheduler", "EulerDiscreteScheduler",
            "EulerAncestralDiscreteScheduler", "HeunDiscreteScheduler", "KDPM2DiscreteScheduler", "KDPM2AncestralDiscreteScheduler",
            "DPMSolverMultistepScheduler", "DEISMultistepScheduler", "UniPCMultistepScheduler", "LCMScheduler", "TCDScheduler");

    /**
     * The scheduler {@code sampler} names, built from the model's scheduler config ({@code null}: the config's own
     * class). Unknown names are an error listing the known ones.
     */
    public static Scheduler create(String sampler, SchedulerConfig modelConfig) {
        if (sampler == null) return Scheduler.fromConfig(modelConfig);
        Resolved r = resolve(sampler);
        ObjectNode json = modelConfig.json();
        r.settings.forEach((k, v) -> {
            if (v instanceof Integer i) json.put(k, i);
            else json.put(k, (String) v);
        });
        // a sampler name says whether the sigmas are Karras; a bare class name keeps the model's setting
        if (KARRAS.contains(r.className) && (r.karras || !r.bareClassName)) json.put("use_karras_sigmas", r.karras);
        if (r.trailing) json.put("timestep_spacing", "trailing");
        return Scheduler.fromConfig(r.className, SchedulerConfig.of(json, modelConfig.source()));
    }

    /** Refuses a sampler name {@link #create} would refuse, with the same message, before any model is loaded. */
    public static void check(String sampler) {
        resolve(sampler);
    }

    private record Resolved(String className, Map<String, Object> settings, boolean karras, boolean trailing, boolean bareClassName) {}

    private static Resolved resolve(String sampler) {
        String key = sampler.trim().toLowerCase(Locale.ROOT).replaceAll("\\s+", " ");
        boolean trailing = key.endsWith("-trailing");
        if (trailing) key = key.substring(0, key.length() - "-trailing".length());
        String karrasSuffix = null;
        for (String k : List.of(" karras", "-karras", "_karras", "_ka")) if (key.endsWith(k)) karrasSuffix = k;
        boolean karras = karrasSuffix != null;
        if (karras) key = key.substring(0, key.length() - karrasSuffix.length());

        String className = null;
        Map<String, Object> settings = Map.of();
        for (Entry e : ENTRIES) {
            if (e.name.toLowerCase(Locale.ROOT).equals(key) || e.aliases.contains(key)) {
                className = e.className;
                settings = e.config;
                break;
            }
        }
        for (String c : Scheduler.CLASS_NAMES) if (c.toLowerCase(Locale.ROOT).equals(key)) className = c;
        if (className == null)
            throw new IllegalArgumentException("unknown sampler '" + sampler + "' (known: " + String.join(", ", names())
                    + ", or a scheduler class name; add \" Karras\" for Karras sigmas, \"-trailing\" for trailing timesteps)");
        if (karras && !KARRAS.contains(className))
            throw new IllegalArgumentException("sampler '" + sampler + "': " + className + " has no Karras sigmas (those that do: "
                    + String.join(", ", KARRAS.stream().sorted().toList()) + ")");
        if (trailing && !SPACING.contains(className))
            throw new IllegalArgumentException("sampler '" + sampler + "': " + className + " has no timestep_spacing option");

        return new Resolved(className, settings, karras, trailing, className.toLowerCase(Locale.ROOT).equals(key));
    }

    /** A sampler as front ends list it: A1111's name, the short name ({@code --sampler}), the other names it answers to. */
    public record Sampler(String name, String id, List<String> aliases) {}

    /**
     * Every sampler of the table, then (as A1111 lists them) the Karras variant of each whose class has Karras sigmas,
     * with A1111's old API names ({@code k_dpmpp_2m_ka}).
     */
    public static List<Sampler> all() {
        List<Sampler> out = new ArrayList<>();
        for (Entry e : ENTRIES) out.add(new Sampler(e.name, e.aliases.getFirst(), e.aliases.subList(1, e.aliases.size())));
        for (Entry e : ENTRIES)
            if (KARRAS.contains(e.className))
                out.add(new Sampler(e.name + " Karras", e.aliases.getFirst() + "-karras",
                        e.aliases.stream().skip(1).filter(a -> a.startsWith("k_")).map(a -> a + "_ka").toList()));
        return out;
    }

    /** What a pipeline class can run: TLD samples with DPM-Solver++(2M) or DDIM only ({@code TldSampler}), the others with every sampler. */
    public static List<Sampler> forPipeline(String pipelineClass) {
        if (pipelineClass.equals("TLDPipeline")) return all().stream().filter(s -> s.id.equals("dpm++2m") || s.id.equals("ddim")).toList();
        return all();
    }

    /** The sampler of {@code offered} a name means (A1111 name, short name or other name, any case), or null. */
    public static Sampler find(List<Sampler> offered, String name) {
        String k = name.trim().toLowerCase(Locale.ROOT);
        for (Sampler s : offered)
            if (s.name.toLowerCase(Locale.ROOT).equals(k) || s.id.equals(k) || s.aliases.contains(k)) return s;
        return null;
    }

    /** The A1111 names, then the short ones. */
    public static List<String> names() {
        List<String> out = new ArrayList<>();
        for (Entry e : ENTRIES) out.add(e.name);
        for (Entry e : ENTRIES) out.add(e.aliases.getFirst());
        return out;
    }

    /**
     * How A1111 writes this scheduler into a PNG's parameters: {@code "DPM++ 2M SDE Karras"}; the class name where
     * A1111 has no equivalent; trailing timesteps as an extra {@code Timestep spacing} entry.
     */
    public static String infotext(Scheduler s) {
        SchedulerConfig c = s.config();
        String name = s.className();
        for (Entry e : ENTRIES) {
            if (!e.className.equals(s.className())) continue;
            boolean matches = true;
            for (Map.Entry<String, Object> kv : e.config.entrySet()) {
                String actual = c.json().path(kv.getKey()).asText(null);
                if (actual != null && !actual.equals(String.valueOf(kv.getValue()))) matches = false;
            }
            if (matches) {
                name = e.name;
                break;
            }
        }
        if (KARRAS.contains(s.className()) && c.getBoolean("use_karras_sigmas", false)) name += " Karras";
        if (SPACING.contains(s.className()) && "trailing".equals(c.getString("timestep_spacing", null)))
            name += ", Timestep spacing: trailing";
        return name;
    }
}
