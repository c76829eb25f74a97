package io.ualbridge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class DemoCommandTest {
    @Test
    void demoPassesAndShowsEverything() {
        Cli.Result r = Cli.run("demo");
        assertThat(r.exit()).as(r.toString()).isZero();
        String out = r.out();
        assertThat(out).doesNotContain("[FAIL]");
        assertThat(out).contains("1. Fabric info", "physical mode", "virtual mode", "PREALLOC", "0x80000001",
                "ROUTING BIT", "2 MiB", "[PASS] physical-mode copy verified", "[PASS] virtual-mode copy verified",
                "[PASS] link used a 2 MiB leaf (level 2)", "NO_GRANT", "AT_TARGET", "stale", "TLB",
                "[PASS] linked without sync: still faults, decided from the TLB (flag TLB)",
                "[PASS] C's ring records the refusal: reason NO_GRANT, initiator C, target A",
                "allocations during the PREALLOC link", "RESULT: PASS");
        assertThat(r.err()).isEmpty();
    }

    @Test
    void jsonDemoIsStructured() {
        Cli.Result r = Cli.run("demo", "--json");
        assertThat(r.exit()).as(r.toString()).isZero();
        JsonNode j = r.json();
        assertThat(j.get("passed").asBoolean()).isTrue();
        assertThat(j.get("roles").get("owner").asInt()).isEqualTo(1);
        assertThat(j.get("roles").get("initiator").asInt()).isZero();
        assertThat(j.get("roles").get("intruder").asInt()).isEqualTo(2);
        List<String> titles = new ArrayList<>();
        j.get("steps").forEach(s -> {
            titles.add(s.get("title").asText());
            assertThat(s.get("passed").asBoolean()).as(s.get("title").asText()).isTrue();
        });
        assertThat(titles).hasSize(9);
        assertThat(titles).anyMatch(t -> t.contains("physical mode")).anyMatch(t -> t.contains("virtual mode"))
                .anyMatch(t -> t.contains("sync")).anyMatch(t -> t.contains("revokes"));
        JsonNode c = j.get("steps").get(5).get("data").get("faultsOfC").get(0);
        assertThat(c.get("reason").asText()).isEqualTo("NO_GRANT");
        JsonNode stale = j.get("steps").get(6).get("data").get("translations").get(1);
        assertThat(stale.get("fault").get("fromTlb").asBoolean()).isTrue();
        JsonNode sum = j.get("summary");
        assertThat(sum.get("preallocLinkAllocations").asLong()).isZero();
        assertThat(sum.get("bytesCopied").asLong()).isEqualTo(2 * (2L << 20));
        assertThat(sum.get("pagesMapped").asLong()).isEqualTo(2 * 512 + 1);
        assertThat(sum.get("faults").asLong()).isGreaterThanOrEqualTo(5);
        assertThat(sum.get("tlbHits").asLong()).isPositive();
        assertThat(sum.get("tlbMisses").asLong()).isPositive();
        assertThat(sum.get("checksFailed").asInt()).isZero();
    }

    @Test
    void smallDemoOnOtherAccelerators() {
        Cli.Result r = Cli.run("demo", "--uri", "fake:?accels=8&local=5", "--size", "64K", "--owner", "7",
                "--intruder", "0");
        assertThat(r.exit()).as(r.toString()).isZero();
        assertThat(r.out()).contains("A = accelerator 7", "B = 5", "C = 0", "RESULT: PASS", "0x80000007");
    }

    @Test
    void demoOnAFabricWithoutVirtualModeFails() {
        Cli.Result r = Cli.run("demo", "--uri", "fake:?mode=physical", "--size", "64K");
        assertThat(r.exit()).as(r.toString()).isEqualTo(ExitCodes.CHECK_FAILED);
        assertThat(r.out()).contains("[FAIL] fabric supports physical and virtual mode", "ENOTSUP", "RESULT: FAIL");
        Cli.Result j = Cli.run("demo", "--json", "--uri", "fake:?mode=physical", "--size", "64K");
        assertThat(j.exit()).isEqualTo(ExitCodes.CHECK_FAILED);
        assertThat(j.json().get("passed").asBoolean()).isFalse();
        assertThat(j.json().get("summary").get("completed").asBoolean()).isFalse();
    }

    @Test
    void demoNeedsThreeAccelerators() {
        Cli.Result r = Cli.run("demo", "--uri", "fake:?accels=2");
        assertThat(r.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(r.err()).contains("at least 3 accelerators");
    }
}
