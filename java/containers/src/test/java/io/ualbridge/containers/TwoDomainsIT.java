package io.ualbridge.containers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.testcontainers.containers.BindMode;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.output.OutputFrame;
import org.testcontainers.containers.startupcheck.OneShotStartupCheckStrategy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two containers are two OS domains of one shared pod: a host directory mounted in both at {@code /pod} holds the
 * pod file. Domain A ({@code ualctl shell}, accelerator 0) allocates device memory, writes known bytes and grants B
 * (accelerator 1) read access to part of it; B reads it through fabric addresses in both modes; B's writes and
 * reads outside the grant are refused and land in both fault rings; A revokes and B is refused; A's container is
 * killed and B's next request fails with EHOSTDOWN promptly instead of hanging.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class TwoDomainsIT {
    private static final Logger LOG = LoggerFactory.getLogger(TwoDomainsIT.class);
    private static final HexFormat HEX = HexFormat.of();
    private static final int BLOCK = 16384;
    private static final int PAGE = 4096;
    /** How long B may take to report A's death: one reply, not a timeout of some lock. */
    private static final Duration DEATH_NOTICED_WITHIN = Duration.ofSeconds(10);

    @TempDir
    Path podDir;

    @Test
    void twoContainersShareOnePodAndADeadDomainIsReportedNotWaitedFor() throws Exception {
        createPod();
        byte[] data = new byte[BLOCK];
        new Random(7).nextBytes(data);

        try (ShellSession a = ShellSession.start("domain-a", podDir, "fake:/pod/pod0?local=0");
             ShellSession b = ShellSession.start("domain-b", podDir, "fake:/pod/pod0?local=1")) {
            assertReady(a, 0);
            assertReady(b, 1);

            // Each process owns its accelerator: a third one cannot take A's.
            try (ShellSession c = ShellSession.start("domain-c", podDir, "fake:/pod/pod0?local=0")) {
                assertThat(c.ready().path("ready").asBoolean()).as("domain-c: %s", c.ready()).isFalse();
                assertThat(c.ready().path("error").asText()).as("domain-c: %s", c.ready()).isEqualTo("EBUSY");
                assertThat(c.awaitExit(ShellSession.REPLY_TIMEOUT)).as("domain-c's exit code").isNotNull().isNotZero();
            }

            // A: 4 pages of device memory holding known bytes; B may read pages 1..2 of them.
            JsonNode alloc = ok(a.call("alloc buf " + BLOCK));
            long pfn = alloc.path("pfn").asLong();
            assertThat(alloc.path("pages").asInt()).isEqualTo(BLOCK / PAGE);
            ok(a.call("write buf 0 " + HEX.formatHex(data)));
            assertThat(hex(ok(a.call("read buf 0 " + BLOCK)))).isEqualTo(HEX.formatHex(data));
            JsonNode grant = ok(a.call("grant buf 1 r --offset " + PAGE + " --len " + 2 * PAGE));
            assertThat(grant.path("pfn").asLong()).isEqualTo(pfn + 1);
            assertThat(grant.path("pages").asInt()).isEqualTo(2);

            JsonNode status = ok(b.call("pod-status"));
            assertThat(hosts(status)).containsExactlyInAnyOrder("domain-a", "domain-b");
            assertThat(status.path("grants")).hasSize(1);
            JsonNode g = status.path("grants").get(0);
            assertThat(List.of(g.path("target").asInt(), g.path("initiator").asInt(), g.path("pfn").asLong(),
                    g.path("pages").asLong())).containsExactly(0, 1, pfn + 1, 2L);
            assertThat(g.path("prot").asText()).isEqualTo("r-");

            // B reads the granted pages through fabric addresses, in both modes, and gets A's bytes.
            assertThat(hex(ok(b.call(read(pfn, PAGE, 256, "physical"))))).isEqualTo(slice(data, PAGE, 256));
            assertThat(hex(ok(b.call(read(pfn + 1, 0, 2 * PAGE, "virtual"))))).isEqualTo(slice(data, PAGE, 2 * PAGE));
            assertThat(hex(ok(b.call(read(pfn + 2, PAGE - 64, 64, "physical"))))).isEqualTo(slice(data, 3 * PAGE - 64, 64));
            assertThat(hex(ok(b.call(read(pfn + 2, 128, 192, "virtual"))))).isEqualTo(slice(data, 2 * PAGE + 128, 192));

            // Refused: writes to the read-only grant, reads of the pages around it; A's bytes stay as they were.
            String junk = "ee".repeat(64);
            List<String> refusals = List.of(
                    "fabric-write 0 " + (pfn + 1) + " 0 " + junk + " --mode physical",
                    "fabric-write 0 " + (pfn + 2) + " 64 " + junk + " --mode virtual",
                    read(pfn, 0, 64, "physical"),
                    read(pfn + 3, 0, 64, "virtual"));
            for (String cmd : refusals) {
                refused(b.call(cmd), "EACCES");
            }
            assertThat(hex(ok(a.call("read buf 0 " + BLOCK)))).isEqualTo(HEX.formatHex(data));

            // Each refusal is one record in the initiator's ring (B) and one at the target (A), in order.
            List<String> expected = List.of("GRANT_PROT write", "GRANT_PROT write", "NO_GRANT read", "NO_GRANT read");
            JsonNode faultsA = ok(a.call("faults"));
            JsonNode faultsB = ok(b.call("faults"));
            assertThat(faults(faultsA, true)).isEqualTo(expected);
            assertThat(faults(faultsB, false)).isEqualTo(expected);
            assertThat(faultsA.path("lost").asLong()).isZero();
            assertThat(faultsB.path("lost").asLong()).isZero();

            // A revokes: B's next reads are refused in both modes.
            ok(a.call("revoke buf 1 --offset " + PAGE + " --len " + 2 * PAGE));
            refused(b.call(read(pfn + 1, 0, 64, "physical")), "EACCES");
            refused(b.call(read(pfn + 1, 0, 64, "virtual")), "EACCES");
            assertThat(ok(b.call("pod-status")).path("grants")).isEmpty();

            // A grants again (so that only A's death can refuse B now), then A's container is killed.
            ok(a.call("grant buf 1 r"));
            assertThat(hex(ok(b.call(read(pfn, 0, 64, "physical"))))).isEqualTo(slice(data, 0, 64));
            a.kill(Duration.ofSeconds(30));

            long t0 = System.nanoTime();
            JsonNode dead = b.call(read(pfn, 0, 64, "physical"));
            long noticedMs = (System.nanoTime() - t0) / 1_000_000;
            LOG.info("B noticed A's death in {} ms: {}", noticedMs, dead);
            refused(dead, "EHOSTDOWN");
            assertThat(dead.path("message").asText()).as("names the dead domain").contains("died").contains("domain-a");
            assertThat(Duration.ofMillis(noticedMs)).isLessThan(DEATH_NOTICED_WITHIN);
            refused(b.call(read(pfn, 0, 64, "virtual")), "EHOSTDOWN");

            JsonNode after = ok(b.call("pod-status"));
            assertThat(after.path("poisoned").asBoolean()).as("pod-status: %s", after).isFalse();
            assertThat(after.path("reaped").asInt()).isEqualTo(1);
            assertThat(hosts(after)).containsExactly("domain-b");
            assertThat(after.path("accelerators").get(0).path("state").asText()).isEqualTo("DOWN");
            assertThat(after.path("accelerators").get(1).path("state").asText()).isEqualTo("OWNED");
            assertThat(after.path("grants")).as("the dead domain's grants are revoked").isEmpty();

            // Accelerator 0 can be opened again. The dead domain's memory went with it, and a new domain's
            // memory reads as zeros (none of A's bytes) and is B's only once granted anew.
            try (ShellSession a2 = ShellSession.start("domain-a2", podDir, "fake:/pod/pod0?local=0")) {
                assertReady(a2, 0);
                refused(b.call(read(pfn, 0, 64, "physical")), "ENOENT");
                long fresh = ok(a2.call("alloc fresh " + BLOCK)).path("pfn").asLong();
                String zeros = "00".repeat(BLOCK);
                assertThat(hex(ok(a2.call("read fresh 0 " + BLOCK)))).isEqualTo(zeros);
                refused(b.call(read(fresh, 0, 64, "physical")), "EACCES");
                ok(a2.call("grant fresh 1 r"));
                assertThat(hex(ok(b.call(read(fresh, 0, BLOCK, "virtual"))))).isEqualTo(zeros);
            }

            ok(b.call("quit"));
            assertThat(b.awaitExit(ShellSession.REPLY_TIMEOUT)).as("B's exit code after quit").isZero();
        }
    }

    /**
     * A domain killed while it works (here: granting and revoking in a loop, so it is often inside the pod's locks)
     * never leaves the other one hanging: each of B's requests, sent in a burst around the kill, is answered
     * promptly, either with A's bytes (before the death) or with a clear error: EHOSTDOWN once A is reaped, or
     * EOWNERDEAD if A died holding a pod lock (the pod is then poisoned and says why). No success after a failure.
     */
    @Test
    void aDomainKilledMidOperationNeverHangsTheOther() throws Exception {
        createPod();
        try (ShellSession a = ShellSession.start("domain-a", podDir, "fake:/pod/pod0?local=0");
             ShellSession b = ShellSession.start("domain-b", podDir, "fake:/pod/pod0?local=1")) {
            assertReady(a, 0);
            assertReady(b, 1);
            long pfn = ok(a.call("alloc buf " + PAGE)).path("pfn").asLong();
            ok(a.call("write buf 0 " + "5a".repeat(64)));
            ok(a.call("alloc churn " + PAGE));
            ok(a.call("grant buf 1 r"));
            assertThat(hex(ok(b.call(read(pfn, 0, 64, "physical"))))).isEqualTo("5a".repeat(64));

            // A's burst: grant/revoke pairs, sent without waiting (under the pipe's 64 KiB, see ShellSession.send).
            int pairs = 1200;
            String grant = "grant churn 1 rw";
            String revoke = "revoke churn 1";
            for (int i = 0; i < pairs; i++) {
                a.send(grant);
                a.send(revoke);
            }
            // Kill it once it is well into the burst.
            for (int i = 0; i < 100; i++) {
                ok(a.reply(grant));
                ok(a.reply(revoke));
            }
            List<String> burst = new ArrayList<>();
            for (int i = 0; i < 300; i++) {
                burst.add(read(pfn, 0, 64, i % 2 == 0 ? "physical" : "virtual"));
            }
            for (String cmd : burst) {
                b.send(cmd);
            }
            a.kill(Duration.ofSeconds(30));

            int before = 0;
            String failure = null;
            for (String cmd : burst) {
                JsonNode r = b.reply(cmd);
                if (r.path("ok").asBoolean()) {
                    assertThat(failure).as("a success after the failure %s: %s", failure, r).isNull();
                    assertThat(hex(r)).isEqualTo("5a".repeat(64));
                    before++;
                } else {
                    assertThat(r.path("error").asText()).as("%s", r).isIn("EHOSTDOWN", "EOWNERDEAD");
                    assertThat(r.path("message").asText()).as("%s", r).isNotBlank();
                    failure = failure == null ? r.path("error").asText() : failure;
                }
            }
            // A is dead by now, so B's next request fails whatever the burst saw.
            JsonNode next = b.call(read(pfn, 0, 64, "physical"));
            refused(next, failure == null ? next.path("error").asText() : failure);
            assertThat(next.path("error").asText()).isIn("EHOSTDOWN", "EOWNERDEAD");
            JsonNode status = b.call("pod-status");
            LOG.info("killed mid-burst: {} of B's {} reads succeeded before the death; then {}; pod-status {}",
                    before, burst.size(), next.path("message").asText(), status);
            if (next.path("error").asText().equals("EOWNERDEAD")) {
                // The pod can't be trusted; status still describes it and says why.
                assertThat(status.path("ok").asBoolean()).as("%s", status).isTrue();
                assertThat(status.path("poisoned").asBoolean()).isTrue();
                assertThat(status.path("poisonReason").asText()).isNotBlank();
            } else {
                ok(status);
                assertThat(status.path("poisoned").asBoolean()).isFalse();
                assertThat(hosts(status)).containsExactly("domain-b");
                assertThat(status.path("accelerators").get(0).path("state").asText()).isEqualTo("DOWN");
                assertThat(status.path("grants")).isEmpty();
            }
            ok(b.call("quit"));
            assertThat(b.awaitExit(ShellSession.REPLY_TIMEOUT)).as("B's exit code after quit").isZero();
        }
    }

    /** A pod of 2 accelerators in the shared directory, made by ualctl in a container. */
    private void createPod() throws IOException {
        UalctlImage.get(); // builds, or skips/fails the test as DockerEnvironment decides
        // The containers' user (uid 10001) creates the pod file here.
        Files.setPosixFilePermissions(podDir, PosixFilePermissions.fromString("rwxrwxrwx"));
        JsonNode created = json(runOnce("pod", "create", "/pod/pod0", "--accels", "2", "--json"));
        assertThat(created.path("created").asBoolean()).as("pod create: %s", created).isTrue();
        assertThat(created.path("pod").path("acceleratorCount").asInt()).isEqualTo(2);
    }

    private static String read(long pfn, long offset, int len, String mode) {
        return "fabric-read 0 " + pfn + " " + offset + " " + len + " --mode " + mode;
    }

    private static String slice(byte[] data, int from, int len) {
        return HEX.formatHex(Arrays.copyOfRange(data, from, from + len));
    }

    private static void assertReady(ShellSession s, int accel) {
        assertThat(s.ready().path("ready").asBoolean()).as("%s: %s", s.name(), s.ready()).isTrue();
        assertThat(s.ready().path("accel").asInt()).isEqualTo(accel);
        assertThat(s.ready().path("accels").asInt()).isEqualTo(2);
    }

    private static JsonNode ok(JsonNode reply) {
        assertThat(reply.path("ok").asBoolean()).as("expected success: %s", reply).isTrue();
        return reply;
    }

    private static void refused(JsonNode reply, String error) {
        assertThat(reply.path("ok").asBoolean()).as("expected %s: %s", error, reply).isFalse();
        assertThat(reply.path("error").asText()).as("%s", reply).isEqualTo(error);
        assertThat(reply.path("message").asText()).as("a message saying why: %s", reply).isNotBlank();
    }

    private static String hex(JsonNode reply) {
        return reply.path("hex").asText();
    }

    private static List<String> hosts(JsonNode status) {
        List<String> hosts = new ArrayList<>();
        status.path("domains").forEach(d -> hosts.add(d.path("host").asText()));
        return hosts;
    }

    /** "REASON access" of each record from accelerator 1 to 0, checking where it was recorded. */
    private static List<String> faults(JsonNode reply, boolean atTarget) {
        List<String> out = new ArrayList<>();
        for (JsonNode f : reply.path("faults")) {
            assertThat(f.path("initiator").asInt()).as("%s", f).isEqualTo(1);
            assertThat(f.path("target").asInt()).as("%s", f).isEqualTo(0);
            List<String> flags = new ArrayList<>();
            f.path("flags").forEach(x -> flags.add(x.asText()));
            assertThat(flags.contains("AT_TARGET")).as("AT_TARGET flag of %s", f).isEqualTo(atTarget);
            out.add(f.path("reason").asText() + " " + f.path("access").asText());
        }
        return out;
    }

    /** Runs ualctl once in a container with the pod directory mounted; fails unless it exits 0. */
    private String runOnce(String... args) {
        try (GenericContainer<?> c = UalctlImage.container()
                .withFileSystemBind(podDir.toString(), "/pod", BindMode.READ_WRITE)
                .withCommand(args)
                .withStartupCheckStrategy(new OneShotStartupCheckStrategy().withTimeout(Duration.ofMinutes(2)))) {
            c.start();
            return c.getLogs(OutputFrame.OutputType.STDOUT);
        }
    }

    private static JsonNode json(String text) {
        try {
            return new ObjectMapper().readTree(text);
        } catch (Exception e) {
            throw new AssertionError("not JSON: " + text, e);
        }
    }
}
