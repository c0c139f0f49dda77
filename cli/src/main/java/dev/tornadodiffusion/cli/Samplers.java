package dev.tornadodiffusion.cli;

import java.util.List;
import java.util.Locale;

/**
 * The samplers the server offers, by A1111's display names (what A1111 clients send as sampler_name) and the
 * short names of {@code --sampler}. A1111's "PLMS" is diffusers' PNDM with skip_prk_steps, as SD's scheduler configs set it.
 */
public final class Samplers {
    public record Sampler(String name, String id, List<String> aliases) {}

    private static final List<Sampler> ALL = List.of(
            new Sampler("Euler a", "euler-a", List.of("k_euler_a", "k_euler_ancestral")),
            new Sampler("Euler", "euler", List.of("k_euler")),
            new Sampler("Heun", "heun", List.of("k_heun")),
            new Sampler("DPM++ 2M", "dpm++2m", List.of("k_dpmpp_2m")),
            new Sampler("DPM++ 2M Karras", "dpm++2m-karras", List.of("k_dpmpp_2m_ka")),
            new Sampler("DDIM", "ddim", List.of()),
            new Sampler("PLMS", "pndm", List.of()),
            new Sampler("UniPC", "unipc", List.of()),
            new Sampler("LCM", "lcm", List.of()),
            new Sampler("DDPM", "ddpm", List.of()));

    private Samplers() {}

    /** What the loaded pipeline can run: TLD samples with DPM-Solver++(2M) or DDIM only. */
    public static List<Sampler> forPipeline(String pipelineClass) {
        if (pipelineClass.equals("TLDPipeline")) return ALL.stream().filter(s -> s.id.equals("dpm++2m") || s.id.equals("ddim")).toList();
        return ALL;
    }

    /** The sampler a name means (A1111 name, alias or short name, any case), or null. */
    public static Sampler find(List<Sampler> offered, String name) {
        String k = name.trim().toLowerCase(Locale.ROOT);
        for (Sampler s : offered)
            if (s.name.toLowerCase(Locale.ROOT).equals(k) || s.id.equals(k) || s.aliases.contains(k)) return s;
        return null;
    }
}
