package io.ualbridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Shared pods within one process: creating, joining and describing pod files. (Several processes on one pod are
 * exercised by ualctl's PodCrossProcessTest.)
 */
class PodTest {
    private static final AtomicInteger SEQ = new AtomicInteger();
    private final List<Path> files = new ArrayList<>();

    /** A fresh path on /dev/shm, deleted after the test. */
    private String path() {
        Path p = Path.of("/dev/shm", "ualbridge-podtest-" + ProcessHandle.current().pid() + "-" + SEQ.incrementAndGet());
        files.add(p);
        return p.toString();
    }

    @AfterEach
    void deleteFiles() throws IOException {
        for (Path p : files) {
            Files.deleteIfExists(p);
        }
    }

    private static UalException ualError(Runnable r) {
        return catchThrowableOfType(UalException.class, r::run);
    }

    @Test
    void createdPodIsEmpty() {
        String path = path();
        Instant before = Instant.now().minusSeconds(1);
        Pod.create("fake:" + path + "?accels=3&mem=2M&mode=virtual", false);
        assertThat(Path.of(path)).exists();
        PodStatus st = Pod.status(path);
        assertThat(st.path()).isEqualTo(path);
        assertThat(st.acceleratorCount()).isEqualTo(3);
        assertThat(st.memorySize()).isEqualTo(2L << 20);
        assertThat(st.supportsVirtual()).isTrue();
        assertThat(st.supportsPhysical()).isFalse();
        assertThat(st.poisoned()).isFalse();
        assertThat(st.poisonReason()).isEmpty();
        assertThat(st.domains()).isEmpty();
        assertThat(st.grants()).isEmpty();
        assertThat(st.reaped()).isZero();
        assertThat(st.heapSize()).isPositive();
        assertThat(st.heapUsed()).isBetween(0L, st.heapSize());
        assertThat(st.created()).isBetween(before, Instant.now().plusSeconds(1));
        assertThat(st.accelerators()).extracting(PodAccel::id).containsExactly(0, 1, 2);
        assertThat(st.accelerators()).allSatisfy(a -> {
            assertThat(a.state()).isEqualTo(PodAccel.State.FREE);
            assertThat(a.ownerSlot()).isEqualTo(-1);
            assertThat(a.ownerPid()).isZero();
            assertThat(a.memoryUsed()).isZero();
            assertThat(a.grants()).isZero();
        });
    }

    @Test
    void createRefusesAnExistingFileUnlessReplacing() throws IOException {
        String path = path();
        Pod.create("fake:" + path + "?accels=2", false);
        UalException e = ualError(() -> Pod.create("fake:" + path + "?accels=4", false));
        assertThat(e.error()).isEqualTo(ErrorCode.EEXIST);
        assertThat(e.operation()).isEqualTo("pod_create");
        assertThat(e.getMessage()).contains("EEXIST");
        assertThat(Pod.status(path).acceleratorCount()).as("unchanged").isEqualTo(2);

        Pod.create("fake:" + path + "?accels=4", true);
        assertThat(Pod.status(path).acceleratorCount()).isEqualTo(4);

        // an existing file that is not a pod is not overwritten either
        String other = path();
        Files.writeString(Path.of(other), "not a pod");
        assertThat(ualError(() -> Pod.create("fake:" + other, false)).error()).isEqualTo(ErrorCode.EEXIST);
        assertThat(Files.readString(Path.of(other))).isEqualTo("not a pod");
    }

    @Test
    void badUrisAreRejected() {
        String path = path();
        for (String uri : new String[] {"fake:", "fake:name", "fake:relative/path", "kmod:", "fake:" + path + "?local=1",
            "fake:" + path + "?accels=0", "fake:" + path + "?bogus=1", "fake:" + path + "?mem=100", "nonsense"}) {
            UalException e = ualError(() -> Pod.create(uri, false));
            assertThat(e).as(uri).isNotNull();
            assertThat(e.error()).as(uri).isEqualTo(ErrorCode.EINVAL);
            assertThat(e.detail()).as(uri).isNotBlank();
        }
        assertThat(Path.of(path)).as("nothing was created").doesNotExist();
        String noDir = "/nonexistent-dir-" + SEQ.get() + "/pod";
        UalException e = ualError(() -> Pod.create("fake:" + noDir, false));
        assertThat(e.error()).isEqualTo(ErrorCode.ENOENT);
        assertThat(e.detail()).contains(noDir);
        assertThatThrownBy(() -> Pod.create(null, false)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void statusOfAMissingFileOrANonPod() throws IOException {
        String missing = path();
        UalException e = ualError(() -> Pod.status(missing));
        assertThat(e.error()).isEqualTo(ErrorCode.ENOENT);
        assertThat(e.operation()).isEqualTo("pod_status");
        assertThat(e.detail()).isNotBlank();

        String junk = path();
        Files.write(Path.of(junk), new byte[64 << 10]);
        assertThat(ualError(() -> Pod.status(junk)).error()).isEqualTo(ErrorCode.EINVAL);
        String tiny = path();
        Files.writeString(Path.of(tiny), "x");
        assertThat(ualError(() -> Pod.status(tiny)).error()).isEqualTo(ErrorCode.EINVAL);
        // opening one as a pod fails the same way, and leaves it alone
        assertThat(ualError(() -> UalDevice.open("fake:" + junk)).error()).isEqualTo(ErrorCode.EINVAL);
        assertThat(Files.size(Path.of(junk))).isEqualTo(64 << 10);
        assertThatThrownBy(() -> Pod.status(null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void statusShowsThisProcessAsADomain() {
        String path = path();
        Pod.create("fake:" + path + "?accels=4&mem=1M", false);
        long pid = ProcessHandle.current().pid();
        try (UalDevice a0 = UalDevice.open("fake:" + path + "?local=0")) {
            PodStatus st = Pod.status(path);
            assertThat(st.domains()).hasSize(1);
            PodDomain d = st.domains().get(0);
            assertThat(d.pid()).isEqualTo(pid);
            assertThat(d.handles()).isEqualTo(1);
            assertThat(d.accelerators()).isEqualTo(1);
            assertThat(d.comm()).isNotEmpty();
            assertThat(d.host()).isNotEmpty();
            assertThat(d.attached()).isBetween(Instant.now().minus(Duration.ofMinutes(1)), Instant.now().plusSeconds(1));
            assertThat(st.accelerator(0).state()).isEqualTo(PodAccel.State.OWNED);
            assertThat(st.accelerator(0).ownerSlot()).isEqualTo(d.slot());
            assertThat(st.accelerator(0).ownerPid()).isEqualTo(pid);
            assertThat(st.accelerator(1).state()).isEqualTo(PodAccel.State.FREE);
            assertThat(st.domainOfPid((int) pid)).contains(d);

            try (UalDevice a2 = a0.openPeer(2); DeviceMemory m = a2.allocMemory(3 * 4096, 0)) {
                a2.grant(2, 0, m.firstPfn() + 1, 2, Prot.READ);
                PodStatus st2 = Pod.status(path);
                assertThat(st2.domains()).singleElement().satisfies(x -> {
                    assertThat(x.handles()).isEqualTo(2);
                    assertThat(x.accelerators()).isEqualTo(2);
                });
                assertThat(st2.accelerator(2).state()).isEqualTo(PodAccel.State.OWNED);
                assertThat(st2.accelerator(2).memoryUsed()).isEqualTo(3 * 4096);
                assertThat(st2.accelerator(2).grants()).isEqualTo(1);
                assertThat(st2.grants()).containsExactly(new PodGrant(2, 0, m.firstPfn() + 1, 2, Prot.READ));
                // the grant works as in one process
                assertThat(a0.translate(0, m.physical(4096), Access.READ).target()).isEqualTo(2);
                assertThat(ualError(() -> a0.translate(0, m.physical(0), Access.READ)).error())
                        .isEqualTo(ErrorCode.EACCES);
            }
            PodStatus st3 = Pod.status(path);
            assertThat(st3.accelerator(2).state()).as("closing the last handle on it frees it")
                    .isEqualTo(PodAccel.State.FREE);
            assertThat(st3.grants()).isEmpty();
            assertThat(st3.accelerator(2).memoryUsed()).isZero();
        }
        PodStatus last = Pod.status(path);
        assertThat(last.domains()).as("the process detached with its last handle").isEmpty();
        assertThat(last.accelerators()).allSatisfy(a -> assertThat(a.state()).isEqualTo(PodAccel.State.FREE));
        assertThat(Path.of(path)).as("the file outlives its processes").exists();
    }

    @Test
    void joiningWithOtherOptionsIsRefused() {
        String path = path();
        Pod.create("fake:" + path + "?accels=2&mem=1M", false);
        assertThat(ualError(() -> UalDevice.open("fake:" + path + "?accels=3")).error()).isEqualTo(ErrorCode.EEXIST);
        assertThat(ualError(() -> UalDevice.open("fake:" + path + "?local=2")).error()).isEqualTo(ErrorCode.ENODEV);
        try (UalDevice d = UalDevice.open("fake:" + path + "?accels=2&mem=1M&local=1")) {
            assertThat(d.info().acceleratorCount()).isEqualTo(2);
            assertThat(d.info().memorySize()).isEqualTo(1L << 20);
        }
    }

    @Test
    void firstOpenCreatesThePod() {
        String path = path();
        try (UalDevice d = UalDevice.open("fake:" + path + "?accels=2&local=1")) {
            assertThat(d.acceleratorId()).isEqualTo(1);
            assertThat(Pod.status(path).accelerator(1).state()).isEqualTo(PodAccel.State.OWNED);
        }
        assertThat(Pod.status(path).acceleratorCount()).isEqualTo(2);
    }

    @Test
    void pathOfAUri() {
        assertThat(Pod.pathOf("fake:/dev/shm/pod0?local=1")).contains("/dev/shm/pod0");
        assertThat(Pod.pathOf("fake:/dev/shm/pod0")).contains("/dev/shm/pod0");
        assertThat(Pod.pathOf("fake:")).isEmpty();
        assertThat(Pod.pathOf("fake:demo?accels=2")).isEmpty();
        assertThat(Pod.pathOf("kmod:/dev/ualmock")).isEmpty();
    }
}
