package io.ualbridge.containers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.command.InspectContainerResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.testcontainers.containers.BindMode;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.output.OutputFrame;
import org.testcontainers.containers.startupcheck.StartupCheckStrategy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One {@code ualctl shell} in its own container: one OS domain of a shared pod, driven a line at a time.
 *
 * <p>Its stdin is a FIFO in the pod directory (mounted at {@code /pod}); this side holds it open read-write, so
 * neither end blocks on open and a write to a dead shell neither fails nor raises SIGPIPE. Its stdout is followed through the
 * daemon's log stream, one JSON line per reply. Every wait is bounded: a missing reply fails the test with the
 * container's state and the end of its stderr, never hangs it.
 */
final class ShellSession implements AutoCloseable {
    /** A reply to one command; generous for a loaded 2-core machine, where one takes milliseconds. */
    static final Duration REPLY_TIMEOUT = Duration.ofSeconds(30);
    /** Container start plus JVM start plus opening the pod. */
    static final Duration READY_TIMEOUT = Duration.ofSeconds(90);
    /** Marks the end of the stdout stream (the container exited). */
    private static final String EOF = "\u0000eof";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Logger LOG = LoggerFactory.getLogger(ShellSession.class);

    private final String name;
    private final GenericContainer<?> container;
    private final FileChannel stdin;
    private final BlockingQueue<String> stdout = new LinkedBlockingQueue<>();
    private final Deque<String> stderrTail = new ArrayDeque<>();
    private JsonNode ready;

    private ShellSession(String name, GenericContainer<?> container, FileChannel stdin) {
        this.name = name;
        this.container = container;
        this.stdin = stdin;
    }

    /**
     * Starts {@code ualctl shell --uri URI} in a container named by its host name {@code name}, with {@code podDir}
     * at {@code /pod}, and waits for its first line: {"ready":true,...}, or {"ready":false,"error":...} when the
     * shell could not open the URI (then it exits).
     */
    static ShellSession start(String name, Path podDir, String uri) throws IOException, InterruptedException {
        Path fifo = podDir.resolve(name + ".in");
        mkfifo(fifo);
        FileChannel stdin = FileChannel.open(fifo, StandardOpenOption.READ, StandardOpenOption.WRITE);
        GenericContainer<?> c = UalctlImage.container()
                .withFileSystemBind(podDir.toString(), "/pod", BindMode.READ_WRITE)
                // The image's entrypoint is ualctl; a shell in front gives it the FIFO as stdin.
                .withCreateContainerCmdModifier(cmd -> cmd.withHostName(name)
                        .withEntrypoint("/bin/sh", "-c", "exec ualctl shell --uri \"$1\" < \"$2\"", "sh"))
                .withCommand(uri, "/pod/" + fifo.getFileName())
                // A shell that cannot open the URI says so on its first line and exits: that is a result too.
                .withStartupCheckStrategy(new StartupCheckStrategy() {
                    @Override
                    public StartupStatus checkStartupState(DockerClient docker, String containerId) {
                        return StartupStatus.SUCCESSFUL;
                    }
                });
        ShellSession s = new ShellSession(name, c, stdin);
        c.withLogConsumer(s.lines());
        try {
            c.start();
            s.ready = s.next(READY_TIMEOUT, "the ready line");
        } catch (RuntimeException | Error e) {
            s.close();
            throw e;
        }
        LOG.info("{}: {}", name, s.ready);
        return s;
    }

    private static void mkfifo(Path fifo) throws IOException, InterruptedException {
        // 0666: the container's user (uid 10001) opens it; this side may run as anyone.
        Process p = new ProcessBuilder("mkfifo", "-m", "0666", fifo.toString()).redirectErrorStream(true).start();
        if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException("mkfifo " + fifo + " failed: " + new String(p.getInputStream().readAllBytes(),
                    StandardCharsets.UTF_8));
        }
    }

    /** TC delivers the log stream a line at a time (line break included), then an END frame. */
    private Consumer<OutputFrame> lines() {
        return frame -> {
            if (frame.getType() == OutputFrame.OutputType.END) {
                stdout.add(EOF);
                return;
            }
            String line = frame.getUtf8String().stripTrailing();
            if (frame.getType() == OutputFrame.OutputType.STDOUT) {
                stdout.add(line);
            } else {
                LOG.debug("{} stderr: {}", name, line);
                synchronized (stderrTail) {
                    stderrTail.addLast(line);
                    if (stderrTail.size() > 40) {
                        stderrTail.removeFirst();
                    }
                }
            }
        };
    }

    /** The first line: {"ready":true,"accel":N,"accels":M,"uri":...} or {"ready":false,"error":...}. */
    JsonNode ready() {
        return ready;
    }

    String name() {
        return name;
    }

    String containerId() {
        return container.getContainerId();
    }

    /**
     * Sends one command and returns its reply, checking that the reply echoes it.
     *
     * @throws AssertionError if no reply comes within {@link #REPLY_TIMEOUT} or it is not the command's
     */
    JsonNode call(String command) throws IOException, InterruptedException {
        send(command);
        long t0 = System.nanoTime();
        JsonNode reply = reply(command);
        LOG.info("{} ({} ms) {} -> {}", name, (System.nanoTime() - t0) / 1_000_000, abbreviate(command),
                abbreviate(reply.toString()));
        return reply;
    }

    /**
     * Waits for the next reply and checks that it is the one to {@code command} (replies come in command order, so
     * several commands may be sent before their replies are read).
     *
     * @throws AssertionError if no reply comes within {@link #REPLY_TIMEOUT} or it is not the command's
     */
    JsonNode reply(String command) throws InterruptedException {
        JsonNode reply = next(REPLY_TIMEOUT, "the reply to '" + abbreviate(command) + "'");
        if (!command.equals(reply.path("cmd").asText(null))) {
            throw new AssertionError(name + ": the reply to '" + abbreviate(command) + "' is for another command: "
                    + abbreviate(reply.toString()));
        }
        return reply;
    }

    /**
     * Writes one line to the shell's stdin. The pipe holds 64 KiB: while the shell runs it drains it, but a write to
     * a dead shell's full pipe would block, so callers send less than that between replies they read.
     */
    void send(String line) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
        while (buf.hasRemaining()) {
            stdin.write(buf);
        }
    }

    private JsonNode next(Duration timeout, String what) throws InterruptedException {
        String line = stdout.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (line == null || line.equals(EOF)) {
            throw new AssertionError(name + ": " + (line == null ? "no " + what + " within " + timeout.toSeconds() + " s"
                    : "stdout ended before " + what) + "; container " + state() + "; stderr ends with:\n"
                    + stderrTail());
        }
        try {
            return JSON.readTree(line);
        } catch (IOException e) {
            throw new AssertionError(name + ": " + what + " is not JSON: " + line + "\nstderr ends with:\n"
                    + stderrTail(), e);
        }
    }

    /** Kills the container with SIGKILL (docker kill) and waits, bounded, until the daemon reports it stopped. */
    void kill(Duration timeout) throws InterruptedException {
        container.getDockerClient().killContainerCmd(containerId()).exec();
        if (awaitExit(timeout) == null) {
            throw new AssertionError(name + ": still running " + timeout.toSeconds() + " s after docker kill");
        }
    }

    /** Waits, bounded, for the container to stop; returns its exit code, or null if it is still running. */
    Long awaitExit(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            InspectContainerResponse.ContainerState st =
                    container.getDockerClient().inspectContainerCmd(containerId()).exec().getState();
            if (!Boolean.TRUE.equals(st.getRunning())) {
                return st.getExitCodeLong();
            }
            if (System.nanoTime() > deadline) {
                return null;
            }
            Thread.sleep(50);
        }
    }

    private String state() {
        try {
            InspectContainerResponse.ContainerState st =
                    container.getDockerClient().inspectContainerCmd(containerId()).exec().getState();
            return st.getStatus() + (Boolean.TRUE.equals(st.getRunning()) ? "" : " (exit code " + st.getExitCodeLong()
                    + (Boolean.TRUE.equals(st.getOOMKilled()) ? ", OOM-killed" : "") + ")");
        } catch (RuntimeException e) {
            return "unknown (" + e.getMessage() + ")";
        }
    }

    private String stderrTail() {
        synchronized (stderrTail) {
            return stderrTail.isEmpty() ? "(nothing)" : String.join("\n", stderrTail);
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 200 ? s : s.substring(0, 200) + "...(" + s.length() + " chars)";
    }

    /** Closes stdin (the shell exits at EOF) and removes the container, whatever state it is in. */
    @Override
    public void close() {
        try {
            stdin.close();
        } catch (IOException e) {
            LOG.debug("{}: closing stdin: {}", name, e.toString());
        }
        container.stop();
    }
}
