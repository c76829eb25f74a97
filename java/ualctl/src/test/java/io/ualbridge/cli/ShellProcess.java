package io.ualbridge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * 'ualctl shell' in a child JVM (another process, hence another OS domain of a pod), driven a line at a time.
 * Every wait has a timeout, so a child that hangs fails the test instead of hanging it.
 */
final class ShellProcess implements AutoCloseable {
    static final Duration START = Duration.ofSeconds(60);
    static final Duration ANSWER = Duration.ofSeconds(30);
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final String EOF = "\u0000EOF";

    private final String name;
    private final Process process;
    private final Writer stdin;
    private final Path stderr;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

    private ShellProcess(String name, Process process, Path stderr) {
        this.name = name;
        this.process = process;
        this.stderr = stderr;
        this.stdin = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8))) {
                String l;
                while ((l = r.readLine()) != null) {
                    lines.add(l);
                }
            } catch (IOException e) {
                // the child went away: report EOF below
            }
            lines.add(EOF);
        }, "stdout of " + name);
        reader.setDaemon(true);
        reader.start();
    }

    /** The test JVM's class path (surefire's, not its booter jar's). */
    static String classpath() {
        String cp = System.getProperty("surefire.test.class.path");
        return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
    }

    /** Starts 'ualctl shell --uri URI' in a new JVM and waits for its ready line. */
    static ShellProcess start(String name, String uri) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-XX:TieredStopAtLevel=1");
        cmd.add("-Xshare:auto");
        String lib = System.getProperty("ualbridge.library.path");
        if (lib != null) {
            cmd.add("-Dualbridge.library.path=" + lib);
        }
        cmd.add("-cp");
        cmd.add(classpath());
        cmd.add(Ualctl.class.getName());
        cmd.add("shell");
        cmd.add("--uri");
        cmd.add(uri);
        Path err = Files.createTempFile("ualctl-shell-" + name + "-", ".err");
        Process p = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
        return new ShellProcess(name, p, err);
    }

    long pid() {
        return process.pid();
    }

    Process process() {
        return process;
    }

    /** The next line, parsed; fails if none comes in time or the child ends. */
    JsonNode next(Duration timeout) {
        String l;
        try {
            l = lines.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
        if (l == null) {
            throw new AssertionError(name + ": no line within " + timeout + stderrTail());
        }
        if (l.equals(EOF)) {
            lines.add(EOF);
            throw new AssertionError(name + ": stdout ended" + stderrTail());
        }
        try {
            return MAPPER.readTree(l);
        } catch (IOException e) {
            throw new AssertionError(name + ": not a JSON line: " + l + stderrTail(), e);
        }
    }

    /** Waits for the ready line and checks it. */
    JsonNode ready() {
        JsonNode n = next(START);
        if (!n.path("ready").asBoolean()) {
            throw new AssertionError(name + ": not ready: " + n + stderrTail());
        }
        return n;
    }

    /** Sends one command and returns its answer (checked to name the command). */
    JsonNode send(String command) {
        try {
            stdin.write(command + "\n");
            stdin.flush();
        } catch (IOException e) {
            throw new AssertionError(name + ": cannot write '" + command + "': " + e + stderrTail(), e);
        }
        JsonNode n = next(ANSWER);
        if (!command.strip().equals(n.path("cmd").asText())) {
            throw new AssertionError(name + ": answer to '" + command + "' names another command: " + n);
        }
        return n;
    }

    /** Sends quit, closes stdin and waits for the exit code. */
    int quit() throws InterruptedException {
        JsonNode n = send("quit");
        if (!n.path("ok").asBoolean()) {
            throw new AssertionError(name + ": quit failed: " + n);
        }
        try {
            stdin.close();
        } catch (IOException e) {
            // already gone
        }
        if (!process.waitFor(ANSWER.toSeconds(), TimeUnit.SECONDS)) {
            throw new AssertionError(name + ": still running " + ANSWER + " after quit" + stderrTail());
        }
        return process.exitValue();
    }

    /** Kills the child at once (SIGKILL) and waits until it is gone. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(ANSWER.toSeconds(), TimeUnit.SECONDS)) {
            throw new AssertionError(name + ": survived SIGKILL for " + ANSWER);
        }
    }

    String stderrTail() {
        try {
            String s = Files.readString(stderr);
            return s.isEmpty() ? "" : "\n--- stderr of " + name + "\n"
                    + (s.length() > 4000 ? s.substring(s.length() - 4000) : s);
        } catch (IOException e) {
            return "";
        }
    }

    @Override
    public void close() throws IOException, InterruptedException {
        if (process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(ANSWER.toSeconds(), TimeUnit.SECONDS);
        }
        Files.deleteIfExists(stderr);
    }
}
