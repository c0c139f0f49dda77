package dev.tornadodiffusion.cli;

import dev.tornadodiffusion.tensor.BackendProvider;
import dev.tornadodiffusion.tensor.cpu.Parallel;

import java.util.ServiceLoader;
import java.util.Set;

/**
 * {@code diffuse devices}: the devices {@code --device} can name. The CPU backend is always there; optional
 * backends (TornadoVM) list what they see, or say why they cannot run and how to fix that.
 */
final class DevicesCommand implements Command {
    @Override public String name() { return "devices"; }

    @Override public String usage() { return "  list the devices --device can use (cpu, and what TornadoVM sees)"; }

    @Override
    public int run(String[] argv) {
        Args args = new Args(argv, Set.of(), Set.of());
        if (!args.positional().isEmpty()) throw new UsageException("devices takes no arguments");
        System.out.println("cpu: " + Parallel.THREADS + " threads (Vector API)");
        boolean tornado = false;
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
            tornado |= p.name().equals("tornado");
            System.out.println(p.name() + ":" + (p.available() ? "" : " not available"));
            for (String line : p.devices()) System.out.println("  " + line);
        }
        if (!tornado)
            System.out.println("tornado: not built into this runner. Install a TornadoVM SDK for JDK 25 (OpenCL or PTX backend) at /opt/tornadovm"
                    + " or set TORNADOVM_HOME, then run ./diffuse again: it rebuilds with the TornadoVM backend and starts the JVM with the SDK's options.");
        return 0;
    }
}
