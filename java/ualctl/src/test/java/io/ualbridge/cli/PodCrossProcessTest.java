package io.ualbridge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.ualbridge.ErrorCode;
import io.ualbridge.Pod;
import io.ualbridge.PodAccel;
import io.ualbridge.PodStatus;
import io.ualbridge.UalDevice;
import io.ualbridge.UalException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/**
 * Two OS domains of one shared pod in two processes: child JVMs running 'ualctl shell' on
 * fake:/dev/shm/...?local=N. Domain A (accelerator 0) grants domain B (accelerator 1) read access to part of its
 * memory; B reads it through fabric addresses in both modes, is refused elsewhere; A revokes; A is killed and B
 * gets EHOSTDOWN, never a hang; the pod's status follows every step.
 */
class PodCrossProcessTest {
    private static final HexFormat HEX = HexFormat.of();

    private final List<AutoCloseable> open = new ArrayList<>();
    private Path pod;

    @AfterEach
    void cleanUp() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
        if (pod != null) {
            Files.deleteIfExists(pod);
        }
    }

    private ShellProcess start(String name, String uri) throws Exception {
        ShellProcess p = ShellProcess.start(name, uri);
        open.add(p);
        return p;
    }

    static JsonNode ok(JsonNode n) {
        assertThat(n.get("ok").asBoolean()).as(n.toString()).isTrue();
        return n;
    }

    static JsonNode refused(JsonNode n, ErrorCode e) {
        assertThat(n.get("ok").asBoolean()).as(n.toString()).isFalse();
        assertThat(n.get("error").asText()).as(n.toString()).isEqualTo(e.name());
        assertThat(n.get("code").asInt()).as(n.toString()).isEqualTo(e.code());
        return n;
    }

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void twoProcessesShareAPod() throws Exception {
        pod = Path.of("/dev/shm", "ualbridge-xproc-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
        String base = "fake:" + pod;
        Pod.create(base + "?accels=2&mem=4M", false);

        ShellProcess a = start("A", base + "?local=0");
        ShellProcess b = start("B", base + "?local=1");
        JsonNode readyA = a.ready();
        JsonNode readyB = b.ready();
        assertThat(readyA.get("accel").asInt()).isZero();
        assertThat(readyA.get("accels").asInt()).isEqualTo(2);
        assertThat(readyB.get("accel").asInt()).isEqualTo(1);

        // Another process can't take an accelerator a live domain owns.
        UalException busy = catchThrowableOfType(UalException.class, () -> UalDevice.open(base + "?local=0"));
        assertThat(busy).isNotNull();
        assertThat(busy.error()).isEqualTo(ErrorCode.EBUSY);

        // A: 8 KiB of known bytes; B may read the first page only.
        byte[] data = new byte[8192];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 7 + 3);
        }
        long pfn = ok(a.send("alloc buf 8K")).get("pfn").asLong();
        ok(a.send("write buf 0 " + HEX.formatHex(data, 0, 4096)));
        ok(a.send("write buf 4096 " + HEX.formatHex(data, 4096, 8192)));
        ok(a.send("grant buf 1 r --len 4096"));

        PodStatus st = Pod.status(pod.toString());
        assertThat(st.domains()).extracting(d -> (long) d.pid()).containsExactlyInAnyOrder(a.pid(), b.pid());
        assertThat(st.accelerator(0).ownerPid()).isEqualTo(a.pid());
        assertThat(st.accelerator(1).ownerPid()).isEqualTo(b.pid());
        assertThat(st.accelerator(0).memoryUsed()).isEqualTo(8192);
        assertThat(st.grants()).singleElement().satisfies(g -> {
            assertThat(g.target()).isZero();
            assertThat(g.initiator()).isEqualTo(1);
            assertThat(g.pfn()).isEqualTo(pfn);
            assertThat(g.pages()).isEqualTo(1);
        });

        // B reads the granted bytes through fabric addresses, in both modes.
        for (String mode : new String[] {"physical", "virtual"}) {
            assertThat(ok(b.send("fabric-read 0 " + pfn + " 0 256 --mode " + mode)).get("hex").asText())
                    .as(mode).isEqualTo(HEX.formatHex(data, 0, 256));
            assertThat(ok(b.send("fabric-read 0 " + pfn + " 1000 77 --mode " + mode)).get("hex").asText())
                    .as(mode).isEqualTo(HEX.formatHex(data, 1000, 1077));
            // refused: a write, a read outside the grant
            refused(b.send("fabric-write 0 " + pfn + " 0 " + "00".repeat(64) + " --mode " + mode), ErrorCode.EACCES);
            refused(b.send("fabric-read 0 " + pfn + " 4096 64 --mode " + mode), ErrorCode.EACCES);
        }
        assertThat(ok(a.send("read buf 0 64")).get("hex").asText()).as("the refused write changed nothing")
                .isEqualTo(HEX.formatHex(data, 0, 64));

        // Both domains' fault rings recorded the refusals.
        JsonNode faultsB = ok(b.send("faults")).get("faults");
        assertThat(faultsB.findValuesAsText("reason")).contains("GRANT_PROT", "NO_GRANT");
        assertThat(faultsB.findValuesAsText("initiator")).containsOnly("1");
        JsonNode faultsA = ok(a.send("faults")).get("faults");
        assertThat(faultsA.findValuesAsText("reason")).contains("GRANT_PROT", "NO_GRANT");
        assertThat(faultsA).allSatisfy(f -> {
            assertThat(f.get("initiator").asInt()).isEqualTo(1);
            assertThat(f.get("target").asInt()).isZero();
            assertThat(f.get("flags").toString()).contains("AT_TARGET");
        });

        // A revokes: B's next read is refused.
        ok(a.send("revoke buf 1 --len 4096"));
        refused(b.send("fabric-read 0 " + pfn + " 0 64 --mode physical"), ErrorCode.EACCES);
        refused(b.send("fabric-read 0 " + pfn + " 0 64 --mode virtual"), ErrorCode.EACCES);

        // Grant again, then kill A mid-run: B gets EHOSTDOWN at once, and A's grant is gone.
        ok(a.send("grant buf 1 r"));
        ok(b.send("fabric-read 0 " + pfn + " 0 64"));
        long deadPid = a.pid();
        a.kill();
        long t0 = System.nanoTime();
        JsonNode down = refused(b.send("fabric-read 0 " + pfn + " 0 64 --mode physical"), ErrorCode.EHOSTDOWN);
        long millis = (System.nanoTime() - t0) / 1_000_000;
        assertThat(down.get("message").asText()).contains("0").containsIgnoringCase("died");
        assertThat(millis).as("answered quickly, not after a timeout").isLessThan(10_000);
        refused(b.send("fabric-read 0 " + pfn + " 0 64 --mode virtual"), ErrorCode.EHOSTDOWN);

        PodStatus after = Pod.status(pod.toString());
        assertThat(after.domains()).extracting(d -> (long) d.pid()).containsExactly(b.pid());
        assertThat(after.accelerator(0).state()).isEqualTo(PodAccel.State.DOWN);
        assertThat(after.accelerator(0).ownerPid()).isEqualTo(deadPid);
        assertThat(after.accelerator(0).memoryUsed()).isZero();
        assertThat(after.grants()).isEmpty();
        assertThat(after.reaped()).isGreaterThanOrEqualTo(1);
        assertThat(after.poisoned()).isFalse();
        // B's view of the pod says the same
        JsonNode viaShell = ok(b.send("pod-status"));
        assertThat(viaShell.get("domains")).hasSize(1);
        assertThat(viaShell.get("domains").get(0).get("pid").asLong()).isEqualTo(b.pid());
        assertThat(viaShell.get("accelerators").get(0).get("state").asText()).isEqualTo("DOWN");

        // Someone opens accelerator 0 again: it is up, and B's requests are judged by its (absent) grants.
        try (UalDevice again = UalDevice.open(base + "?local=0")) {
            JsonNode n = b.send("fabric-read 0 " + pfn + " 0 64");
            assertThat(n.get("ok").asBoolean()).as(n.toString()).isFalse();
            assertThat(n.get("error").asText()).as(n.toString()).isNotEqualTo("EHOSTDOWN");
            assertThat(Pod.status(pod.toString()).accelerator(0).ownerPid()).isEqualTo(ProcessHandle.current().pid());
        }

        assertThat(b.quit()).isZero();
        PodStatus end = Pod.status(pod.toString());
        assertThat(end.domains()).isEmpty();
        assertThat(end.accelerators()).allSatisfy(x -> assertThat(x.state()).isNotEqualTo(PodAccel.State.OWNED));
    }
}
