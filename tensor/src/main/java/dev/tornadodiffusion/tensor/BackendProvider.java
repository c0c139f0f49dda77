package dev.tornadodiffusion.tensor;

import java.util.List;

/** Service interface through which optional backends (TornadoVM) are found at run time. */
public interface BackendProvider {
    /** The name users select it by, e.g. "tornado". */
    String name();

    /** Whether it can run in this JVM; if not, {@link #unavailableReason()} says how to fix that. */
    boolean available();

    String unavailableReason();

    Backend create();

    /** One line per device this backend can use (or one line saying why it cannot run), for {@code diffuse devices}. */
    List<String> devices();
}
