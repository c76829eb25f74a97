package io.ualbridge.conformance;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DifferentialTest {
    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 42, 1234567})
    void identicalFakesAgreeOnEveryOp(long seed) {
        Differential.Report r = Differential.run("fake:?accels=3&mem=8M", "fake:?accels=3&mem=8M",
                new Differential.Options(seed, 600, true));
        assertThat(r.firstDivergence()).as("first divergence").isNull();
        assertThat(r.opsRun()).isEqualTo(600);
        assertThat(r.identical()).isTrue();
    }

    /** A shared pod must behave exactly like the in-process fabric (same core, state in a file). */
    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {5, 6, 7})
    void sharedPodAgreesWithInProcessFabric(long seed) throws java.io.IOException {
        Path pod = Path.of("/dev/shm", "ualbridge-differential-" + ProcessHandle.current().pid() + "-" + seed);
        try {
            Differential.Report r = Differential.run("fake:?accels=3&mem=8M", "fake:" + pod + "?accels=3&mem=8M",
                    new Differential.Options(seed, 1500, true));
            assertThat(r.firstDivergence()).as("first divergence").isNull();
            assertThat(r.opsRun()).isEqualTo(1500);
        } finally {
            Files.deleteIfExists(pod);
        }
    }

    @Test
    void sequenceExercisesEveryKindOfOperation() {
        Differential.Report r = Differential.run("fake:", "fake:", new Differential.Options(7, 800, true));
        Map<String, Integer> kinds = new TreeMap<>();
        for (Differential.Step s : r.steps()) {
            kinds.merge(s.op().split("[ #]")[0], 1, Integer::sum);
        }
        assertThat(kinds).containsKeys("mem_alloc", "mem_free", "mem_write", "mem_read", "grant", "revoke",
                "map_pfns", "iova_alloc", "link", "sync", "unlink", "iova_free", "translate", "copy", "fault_read",
                "dump", "info", "bad:", "host_register");
        // the sequence reaches real outcomes, not only refusals
        assertThat(r.steps()).anyMatch(s -> s.op().startsWith("translate") && s.resultA().startsWith("ok"));
        assertThat(r.steps()).anyMatch(s -> s.op().startsWith("translate") && s.resultA().startsWith("ERR EFAULT"));
        assertThat(r.steps()).anyMatch(s -> s.op().startsWith("copy") && s.resultA().startsWith("ok"));
        assertThat(r.steps()).anyMatch(s -> s.op().startsWith("fault_read") && s.resultA().contains("[seq+"));
    }

    @Test
    void sameSeedSameSequence() {
        Differential.Report a = Differential.run("fake:", "fake:", new Differential.Options(99, 200, true));
        Differential.Report b = Differential.run("fake:", "fake:", new Differential.Options(99, 200, true));
        assertThat(a.steps()).isEqualTo(b.steps());
    }

    @Test
    void detectsADifferentPageTablePoolAtOpen() {
        Differential.Report r = Differential.run("fake:", "fake:?pt_pool=64", new Differential.Options(1, 100, true));
        assertThat(r.identical()).isFalse();
        assertThat(r.firstDivergence().index()).isZero();
        assertThat(r.firstDivergence().resultA()).contains("ptPool=4096");
        assertThat(r.firstDivergence().resultB()).contains("ptPool=64");
    }

    @Test
    void detectsADifferentTlbByBehaviour() {
        // configuration not compared: the divergence must show in what the operations return
        Differential.Report r = Differential.run("fake:?accels=2&mem=8M", "fake:?accels=2&mem=8M&tlb=1",
                new Differential.Options(3, 2000, false));
        assertThat(r.identical()).as("a 1-entry TLB must change some outcome").isFalse();
        Differential.Step d = r.firstDivergence();
        assertThat(d.index()).isPositive();
        assertThat(d.resultA()).isNotEqualTo(d.resultB());
        assertThat(d.op()).matches("(translate|info|copy|fault_read).*");
    }

    @Test
    void detectsASmallPoolByBehaviour() {
        Differential.Report r = Differential.run("fake:?accels=2", "fake:?accels=2&pt_pool=6",
                new Differential.Options(5, 3000, false));
        assertThat(r.identical()).isFalse();
        assertThat(r.firstDivergence().resultA() + r.firstDivergence().resultB()).containsAnyOf("ENOMEM", "ptPoolFree");
    }

    @Test
    void kmodAgreesWithFakeOfTheModuleParameters() {
        String fakeUri = System.getProperty("ualbridge.differential.fake");
        Assumptions.assumeTrue(Files.exists(Path.of("/dev/ualmock")) && fakeUri != null,
                "needs /dev/ualmock and -Dualbridge.differential.fake=<fake URI with the module's parameters>");
        Differential.Report r = Differential.run("kmod:/dev/ualmock", fakeUri, new Differential.Options(1, 1000, true));
        assertThat(r.firstDivergence()).as("first divergence").isNull();
    }
}
