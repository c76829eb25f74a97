package io.ualbridge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class FaultsCommandTest {
    @Test
    void freshFabricHasNoFaults() {
        Cli.Result r = Cli.run("faults", "--json");
        assertThat(r.exit()).as(r.toString()).isZero();
        JsonNode rings = r.json().get("rings");
        assertThat(rings).hasSize(1);
        assertThat(rings.get(0).get("accelerator").asInt()).isZero();
        assertThat(rings.get(0).get("faults")).isEmpty();
        assertThat(rings.get(0).get("lost").asLong()).isZero();
        assertThat(r.json().has("provoked")).isFalse();
    }

    @Test
    void provokedUngrantedRequestIsRecordedAtBothEnds() {
        Cli.Result r = Cli.run("faults", "--json", "--provoke");
        assertThat(r.exit()).as(r.toString()).isZero();
        JsonNode j = r.json();
        assertThat(j.get("provoked").get("kind").asText()).isEqualTo("no-grant");
        assertThat(j.get("provoked").get("refused").asInt()).isEqualTo(1);
        JsonNode initiatorRing = j.get("rings").get(0);
        assertThat(initiatorRing.get("accelerator").asInt()).isEqualTo(1);
        JsonNode f = initiatorRing.get("faults").get(0);
        assertThat(f.get("reason").asText()).isEqualTo("NO_GRANT");
        assertThat(f.get("initiator").asInt()).isEqualTo(1);
        assertThat(f.get("target").asInt()).isZero();
        assertThat(f.get("access").asText()).isEqualTo("read");
        assertThat(f.get("address").get("routed").asBoolean()).isTrue();
        assertThat(f.has("seq")).isTrue();
        JsonNode targetRing = j.get("rings").get(1);
        assertThat(targetRing.get("accelerator").asInt()).isZero();
        assertThat(targetRing.get("faults").get(0).get("atTarget").asBoolean()).isTrue();
    }

    @Test
    void humanOutputShowsTheRecords() {
        Cli.Result r = Cli.run("faults", "--provoke=not-present", "--initiator", "2");
        assertThat(r.exit()).as(r.toString()).isZero();
        assertThat(r.out()).contains("Fault ring of accelerator 2", "SEQ", "INITIATOR", "TARGET", "ADDRESS",
                "ACCESS", "REASON", "FLAGS", "NOT_PRESENT", "iova:", "lost");
    }

    @Test
    void otherKinds() {
        for (String[] k : new String[][] {{"grant-prot", "GRANT_PROT"}, {"out-of-range", "OUT_OF_RANGE"},
            {"bad-target", "BAD_TARGET"}}) {
            Cli.Result r = Cli.run("faults", "--json", "--provoke", k[0]);
            assertThat(r.exit()).as(r.toString()).isZero();
            assertThat(r.json().get("rings").get(0).get("faults").get(0).get("reason").asText()).as(k[0])
                    .isEqualTo(k[1]);
        }
    }

    @Test
    void overflowingTheRingCountsLostRecords() {
        Cli.Result r = Cli.run("faults", "--json", "--provoke", "--count", "40", "--uri", "fake:?faults=16",
                "--ring", "1");
        assertThat(r.exit()).as(r.toString()).isZero();
        JsonNode ring = r.json().get("rings").get(0);
        assertThat(ring.get("lost").asLong()).isPositive();
        assertThat(ring.get("faults").size() + ring.get("lost").asLong()).isEqualTo(40);
    }

    @Test
    void badKindIsAUsageError() {
        Cli.Result r = Cli.run("faults", "--provoke=bogus");
        assertThat(r.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(r.err()).contains("--provoke", "'bogus'");
    }
}
