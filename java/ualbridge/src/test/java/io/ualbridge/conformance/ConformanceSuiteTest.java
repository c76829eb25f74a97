package io.ualbridge.conformance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.TestFactory;
import org.opentest4j.TestAbortedException;

/**
 * Runs every conformance check against each URI of the system property {@code ualbridge.conformance.uris}
 * (comma-separated). By default: the fake backend in several configurations, and {@code kmod:/dev/ualmock} when
 * that device exists. A FAIL fails the test, a SKIP aborts it with the reason (reported as skipped).
 */
class ConformanceSuiteTest {
    /** A shared pod (fake:/PATH) of this JVM: the suite runs on it like on any backend; deleted afterwards. */
    static final Path POD = Path.of("/dev/shm", "ualbridge-conformance-" + ProcessHandle.current().pid());

    static final List<String> DEFAULT_URIS = List.of("fake:", "fake:?mode=physical", "fake:?mode=virtual",
            "fake:?dma_bits=57", "fake:?accels=1&mem=4M", "fake:?dma_bits=21&tlb=1&faults=16384",
            "fake:" + POD + "?accels=4&mem=16M");

    @AfterAll
    static void deletePod() throws java.io.IOException {
        Files.deleteIfExists(POD);
    }

    static List<String> uris() {
        String prop = System.getProperty("ualbridge.conformance.uris");
        List<String> uris = new ArrayList<>();
        if (prop != null && !prop.isBlank()) {
            Arrays.stream(prop.split(",")).map(String::strip).filter(s -> !s.isEmpty()).forEach(uris::add);
        } else {
            uris.addAll(DEFAULT_URIS);
            if (Files.exists(Path.of("/dev/ualmock"))) {
                uris.add("kmod:/dev/ualmock");
            }
        }
        return uris;
    }

    @TestFactory
    Stream<DynamicNode> everyCheckOnEveryUri() {
        return uris().stream().map(uri -> {
            ConformanceRunner runner = new ConformanceRunner(uri);
            return DynamicContainer.dynamicContainer(uri, ConformanceSuite.checks().stream().map(check ->
                    DynamicTest.dynamicTest(check.name(), () -> {
                        CheckResult r = runner.run(check);
                        switch (r.outcome()) {
                            case PASS -> { }
                            case SKIP -> throw new TestAbortedException("SKIP: " + r.message());
                            case FAIL -> fail(check.name() + " on " + uri + ": " + r.message());
                        }
                    })));
        });
    }

    static Map<String, CheckResult> byName(ConformanceReport r) {
        return r.results().stream().collect(Collectors.toMap(CheckResult::check, Function.identity()));
    }

    @Test
    void defaultFakePassesEverythingItCan() {
        ConformanceReport r = new ConformanceRunner("fake:").run(ConformanceListener.NONE);
        assertThat(r.results()).filteredOn(x -> x.outcome() == Outcome.FAIL).isEmpty();
        // the default fake has both modes, so only the single-mode check is skipped
        assertThat(r.results()).filteredOn(x -> x.outcome() == Outcome.SKIP).extracting(CheckResult::check)
                .containsExactly("fault-reason-mode");
        assertThat(byName(r).get("fault-reason-mode").message()).contains("exactly one addressing mode")
                .contains("physical+virtual");
        assertThat(r.backend()).isEqualTo("fake");
        assertThat(r.passed()).isTrue();
    }

    @Test
    void physicalOnlyFakeSkipsVirtualChecksWithReasons() {
        ConformanceReport r = new ConformanceRunner("fake:?mode=physical").run(ConformanceListener.NONE);
        Map<String, CheckResult> m = byName(r);
        for (String virt : List.of("iova-alloc-alignment", "link-sync-unlink-free", "stale-tlb-until-sync",
                "unlink-synchronous", "bad-inputs-virtual", "copy-virtual", "large-page-2m")) {
            assertThat(m.get(virt).outcome()).as(virt).isEqualTo(Outcome.SKIP);
            assertThat(m.get(virt).message()).as(virt).contains("virtual addressing mode").contains("physical");
        }
        assertThat(m.get("fault-reason-mode").outcome()).isEqualTo(Outcome.PASS);
        assertThat(m.get("map-pfns-physical").outcome()).isEqualTo(Outcome.PASS);
        assertThat(r.passed()).as(r.results().toString()).isTrue();
    }

    @Test
    void virtualOnlyFakeSkipsPhysicalChecksWithReasons() {
        ConformanceReport r = new ConformanceRunner("fake:?mode=virtual").run(ConformanceListener.NONE);
        Map<String, CheckResult> m = byName(r);
        for (String phys : List.of("map-pfns-physical", "fault-reasons-physical", "copy-physical",
                "bad-inputs-physical")) {
            assertThat(m.get(phys).outcome()).as(phys).isEqualTo(Outcome.SKIP);
            assertThat(m.get(phys).message()).as(phys).contains("physical addressing mode").contains("virtual");
        }
        // grants are still checked, through IOVAs
        assertThat(m.get("grants-and-revoke").outcome()).isEqualTo(Outcome.PASS);
        assertThat(m.get("fault-reason-mode").outcome()).isEqualTo(Outcome.PASS);
        assertThat(r.passed()).as(r.results().toString()).isTrue();
    }

    @Test
    void oneAcceleratorSkipsPeerChecks() {
        ConformanceReport r = new ConformanceRunner("fake:?accels=1&mem=4M").run(ConformanceListener.NONE);
        Map<String, CheckResult> m = byName(r);
        assertThat(m.get("grants-and-revoke").outcome()).isEqualTo(Outcome.SKIP);
        assertThat(m.get("grants-and-revoke").message()).contains("at least two accelerators")
                .contains("1 accelerator");
        assertThat(m.get("peers").outcome()).isEqualTo(Outcome.PASS);
        assertThat(r.passed()).as(r.results().toString()).isTrue();
    }

    @Test
    void bigFaultRingSkipsOverflowWithReason() {
        ConformanceReport r = new ConformanceRunner("fake:?faults=16384").run(
                ConformanceSuite.select(List.of("fault-ring-overflow")), ConformanceListener.NONE);
        assertThat(r.results().get(0).outcome()).isEqualTo(Outcome.SKIP);
        assertThat(r.results().get(0).message()).contains("overflow not exercised");
    }

    @Test
    void listenerSeesEveryCheck() {
        List<String> events = new ArrayList<>();
        List<Check> checks = ConformanceSuite.select(List.of("info-sanity", "peers"));
        new ConformanceRunner("fake:").run(checks, new ConformanceListener() {
            @Override
            public void started(String uri, Capabilities caps, int total) {
                events.add("start " + uri + " " + total);
            }

            @Override
            public void checkStarted(Check check, int index, int total) {
                events.add("> " + check.name() + " " + index + "/" + total);
            }

            @Override
            public void checkFinished(CheckResult result, int index, int total) {
                events.add("< " + result.check() + " " + result.outcome());
            }
        });
        assertThat(events).containsExactly("start fake: 2", "> info-sanity 0/2", "< info-sanity PASS",
                "> peers 1/2", "< peers PASS");
    }

    @Test
    void selectRejectsUnknownNames() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ConformanceSuite.select(List.of("nope")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no check named 'nope'")
                .hasMessageContaining("info-sanity");
    }

    @Test
    void checkNamesAreUniqueAndDescribed() {
        List<String> names = ConformanceSuite.checks().stream().map(Check::name).toList();
        assertThat(names).doesNotHaveDuplicates();
        assertThat(ConformanceSuite.checks()).allSatisfy(c -> {
            assertThat(c.name()).matches("[a-z0-9]+(-[a-z0-9]+)*");
            assertThat(c.description()).isNotBlank();
        });
    }
}
