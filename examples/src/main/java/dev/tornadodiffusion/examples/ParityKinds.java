package dev.tornadodiffusion.examples;

import dev.tornadodiffusion.nn.clip.ClipTextParity;
import dev.tornadodiffusion.nn.tld.TldParity;
import dev.tornadodiffusion.nn.unet.UNetParity;
import dev.tornadodiffusion.nn.vae.VaeParity;

import java.util.Map;

/** Which code runs each kind of reference case (see ParityCommand.kindOf). */
final class ParityKinds {
    private ParityKinds() {}

    private static final Map<String, ParityCommand.Kind> KINDS = Map.of(
            "vae", VaeParity::run,
            "clip-text", ClipTextParity::run,
            "tld-denoiser", TldParity::run,
            "unet", UNetParity::run
    );

    static ParityCommand.Kind get(String kind) { return KINDS.get(kind); }
}
