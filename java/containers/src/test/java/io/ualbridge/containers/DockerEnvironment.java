package io.ualbridge.containers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Assumptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.testcontainers.DockerClientFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Decides once per JVM whether the container tests can run, and points Testcontainers at the daemon.
 *
 * <p>The daemon is {@code DOCKER_HOST}'s, else the default socket. It is asked for {@code /version} directly, with a
 * bounded wait, for two reasons: an unusable daemon then gets a precise reason instead of a hang or Testcontainers'
 * generic message, and the API version can be chosen. Testcontainers asks for API 1.44, which older daemons such as
 * Debian 12's docker.io (API 1.41) refuse; like the docker CLI, the tests then speak the daemon's version. The system
 * property {@code api.version} or {@code DOCKER_API_VERSION} overrides that choice.
 *
 * <p>With {@code UAL_CONTAINER_TESTS=required} (scripts/test sets it) an unusable daemon fails the tests; without it
 * they are skipped with the reason, so that {@code mvn verify} on a machine without Docker still works.
 */
final class DockerEnvironment {
    static final String MODE_ENV = "UAL_CONTAINER_TESTS";
    private static final String DEFAULT_HOST = "unix:///var/run/docker.sock";
    /** The API version Testcontainers 2.x asks for when none is configured. */
    private static final String TESTCONTAINERS_API = "1.44";
    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(10);
    private static final Logger LOG = LoggerFactory.getLogger(DockerEnvironment.class);

    private static boolean probed;
    /** Why Docker cannot be used, or null when it can. */
    private static String unusable;

    private DockerEnvironment() {
    }

    /**
     * Returns if the tests can use Docker; otherwise fails (required mode) or aborts the calling test as skipped.
     *
     * @throws IllegalStateException when Docker is required and unusable, or {@value #MODE_ENV} has a bad value
     */
    static synchronized void require() {
        String mode = System.getenv(MODE_ENV);
        boolean required = "required".equals(mode);
        if (!required && mode != null && !mode.isEmpty()) {
            throw new IllegalStateException(MODE_ENV + " must be 'required' or unset, not '" + mode + "'");
        }
        if (!probed) {
            unusable = probe();
            probed = true;
        }
        if (unusable == null) {
            return;
        }
        if (required) {
            throw new IllegalStateException("Docker is required (" + MODE_ENV + "=required) but not usable: " + unusable
                    + ". scripts/test starts a daemon with scripts/docker-daemon and exports DOCKER_HOST.");
        }
        Assumptions.abort("Docker is not usable, container tests skipped: " + unusable + " (set " + MODE_ENV
                + "=required to make this a failure; scripts/test does)");
    }

    private static String probe() {
        String host = System.getenv("DOCKER_HOST");
        if (host == null || host.isBlank()) {
            host = DEFAULT_HOST;
        }
        String api;
        try {
            api = daemonApiVersion(host);
        } catch (IOException e) {
            return "the daemon at " + host + " does not answer GET /version: " + e.getMessage();
        }
        if (api != null && System.getProperty("api.version") == null) {
            String chosen = System.getenv("DOCKER_API_VERSION");
            if (chosen == null || chosen.isBlank()) {
                chosen = compareVersions(api, TESTCONTAINERS_API) < 0 ? api : null;
            }
            if (chosen != null) {
                System.setProperty("api.version", chosen);
            }
        }
        LOG.info("Docker daemon at {}: API {}; client API {}", host, api == null ? "(not probed)" : api,
                System.getProperty("api.version", TESTCONTAINERS_API));
        checkNoPullSettings();
        if (!DockerClientFactory.instance().isDockerAvailable()) {
            return "Testcontainers cannot use the daemon at " + host + " (its log above says why)";
        }
        return null;
    }

    /**
     * Refuses to let Testcontainers start without the settings that keep it from pulling its helper images (Ryuk,
     * and alpine for its start-up checks, which bind mounts trigger): a pull must never be attempted. It reads them
     * from the environment only; failsafe's configuration in this module's pom sets them.
     */
    private static void checkNoPullSettings() {
        for (String[] kv : new String[][] {{"TESTCONTAINERS_RYUK_DISABLED", "true"},
                {"TESTCONTAINERS_CHECKS_DISABLE", "true"}, {"TESTCONTAINERS_HOST_OVERRIDE", null}}) {
            String v = System.getenv(kv[0]);
            if (v == null || v.isBlank() || (kv[1] != null && !kv[1].equalsIgnoreCase(v))) {
                throw new IllegalStateException("environment variable " + kv[0] + " must be "
                        + (kv[1] == null ? "set (e.g. localhost)" : kv[1]) + ", not " + (v == null ? "unset" : "'" + v + "'")
                        + ": without it Testcontainers pulls a helper image. Run these tests through Maven "
                        + "(java/containers/pom.xml sets it) or set it yourself.");
            }
        }
    }

    /**
     * The daemon's API version from {@code GET /version}, or null when {@code host} is a kind this probe does not
     * speak (TLS): then Testcontainers alone decides.
     */
    private static String daemonApiVersion(String host) throws IOException {
        URI uri = URI.create(host);
        SocketAddress address;
        boolean tls = "1".equals(System.getenv("DOCKER_TLS_VERIFY"));
        if ("unix".equals(uri.getScheme())) {
            address = UnixDomainSocketAddress.of(uri.getPath());
        } else if ("tcp".equals(uri.getScheme()) && !tls) {
            address = new InetSocketAddress(uri.getHost(), uri.getPort() < 0 ? 2375 : uri.getPort());
        } else {
            return null;
        }
        // SocketChannel reads have no timeout of their own; cancelling the task interrupts the read, which closes
        // the channel.
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
        Future<String> response = pool.submit(() -> httpGet(address, "/version"));
        try {
            String text = response.get(PROBE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            int split = text.indexOf("\r\n\r\n");
            String status = text.substring(0, Math.max(0, text.indexOf("\r\n")));
            if (split < 0 || !status.matches("HTTP/1\\.[01] 200 .*")) {
                throw new IOException("unexpected reply '" + status + "'");
            }
            JsonNode version = new ObjectMapper().readTree(text.substring(split + 4));
            String api = version.path("ApiVersion").asText("");
            if (!api.matches("\\d+\\.\\d+")) {
                throw new IOException("no ApiVersion in the reply: " + version);
            }
            return api;
        } catch (TimeoutException e) {
            response.cancel(true);
            throw new IOException("no reply within " + PROBE_TIMEOUT.toSeconds() + " s");
        } catch (ExecutionException e) {
            throw new IOException(e.getCause().toString(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } finally {
            pool.shutdownNow();
        }
    }

    /** One HTTP/1.0 request: the daemon closes the connection after the reply, so reading to EOF reads it all. */
    private static String httpGet(SocketAddress address, String path) throws IOException {
        try (SocketChannel ch = SocketChannel.open(address)) {
            ch.write(ByteBuffer.wrap(("GET " + path + " HTTP/1.0\r\nHost: docker\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII)));
            ByteBuffer buf = ByteBuffer.allocate(64 << 10);
            while (buf.hasRemaining() && ch.read(buf) >= 0) {
                // keep reading until EOF (or a reply far larger than /version's)
            }
            return new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8);
        }
    }

    /** Compares dotted API versions numerically ("1.41" < "1.44" < "1.100"). */
    static int compareVersions(String a, String b) {
        String[] x = a.split("\\.");
        String[] y = b.split("\\.");
        for (int i = 0; i < Math.max(x.length, y.length); i++) {
            int c = Integer.compare(i < x.length ? Integer.parseInt(x[i]) : 0, i < y.length ? Integer.parseInt(y[i]) : 0);
            if (c != 0) {
                return c;
            }
        }
        return 0;
    }
}
