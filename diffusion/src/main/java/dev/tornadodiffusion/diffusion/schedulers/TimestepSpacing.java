package dev.tornadodiffusion.diffusion.schedulers;

/** How inference timesteps are spread over the training schedule ({@code timestep_spacing}, Table 2 of arXiv 2305.08891). */
public enum TimestepSpacing {
    LINSPACE, LEADING, TRAILING
}
