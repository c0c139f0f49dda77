package dev.tornadodiffusion.examples;

import java.util.Map;

/** Which code runs each kind of reference case (see ParityCommand.kindOf). */
final class ParityKinds {
    private ParityKinds() {}

    private static final Map<String, ParityCommand.Kind> KINDS = Map.of(
    );

    static ParityCommand.Kind get(String kind) { return KINDS.get(kind); }
}
