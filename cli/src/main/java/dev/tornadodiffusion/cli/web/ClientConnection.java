package dev.tornadodiffusion.cli.web;

import com.sun.net.httpserver.HttpExchange;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Whether the client of a request that is still waiting for its answer has closed its connection. The JDK's
 * HttpServer offers no way to ask (only a write would fail, and an answer that is a PNG cannot start early), so this
 * reads the kernel's table of TCP connections (Linux: /proc/net/tcp and tcp6): the server's end of a connection the
 * client closed is in state CLOSE_WAIT. Elsewhere it answers false and the job runs to its end or its time limit.
 */
final class ClientConnection {
    private static final List<Path> TABLES = List.of(Path.of("/proc/net/tcp"), Path.of("/proc/net/tcp6"));
    private static final String CLOSE_WAIT = "08";

    private ClientConnection() {}

    static boolean closedByPeer(HttpExchange ex) {
        String local = String.format(":%04X", ex.getLocalAddress().getPort()), remote = String.format(":%04X", ex.getRemoteAddress().getPort());
        for (Path table : TABLES) {
            if (!Files.isReadable(table)) continue;
            try {
                for (String line : Files.readAllLines(table)) {
                    // "  sl  local_address rem_address   st ...": addresses are HEXIP:HEXPORT
                    String[] f = line.trim().split("\\s+");
                    if (f.length > 3 && f[1].endsWith(local) && f[2].endsWith(remote)) return f[3].equals(CLOSE_WAIT);
                }
            } catch (IOException | RuntimeException e) {
                return false;
            }
        }
        return false;
    }
}
