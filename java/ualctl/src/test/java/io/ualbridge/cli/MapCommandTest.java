package io.ualbridge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class MapCommandTest {
    @Test
    void humanOutputShowsBothModes() {
        Cli.Result r = Cli.run("map", "--target", "1", "--initiator", "0", "--pages", "4");
        assertThat(r.exit()).as(r.toString()).isZero();
        assertThat(r.out()).contains("Memory", "on accelerator 1", "Grant", "lets initiator 0 read and write",
                "Physical mode", "ROUTE WORD", "0x80000001", "Virtual mode", "IOVA range", "LEVEL", "synced");
    }

    @Test
    void jsonPhysicalAddressesAreRoutedToTheTarget() {
        Cli.Result r = Cli.run("map", "--json", "--target", "2", "--initiator", "1", "--pages", "3", "--mode",
                "physical", "--prot", "r");
        assertThat(r.exit()).as(r.toString()).isZero();
        JsonNode j = r.json();
        assertThat(j.get("target").asInt()).isEqualTo(2);
        assertThat(j.get("initiator").asInt()).isEqualTo(1);
        assertThat(j.get("prot").asText()).isEqualTo("r-");
        assertThat(j.get("granted").asBoolean()).isTrue();
        assertThat(j.has("virtual")).isFalse();
        JsonNode phys = j.get("physical");
        assertThat(phys).hasSize(3);
        long first = Long.decode(j.get("memory").get("phys").asText());
        for (int i = 0; i < 3; i++) {
            JsonNode p = phys.get(i);
            assertThat(p.get("routed").asBoolean()).isTrue();
            assertThat(p.get("target").asInt()).isEqualTo(2);
            assertThat(p.get("route").asText()).isEqualTo("0x80000002");
            assertThat(Long.decode(p.get("address").asText())).isEqualTo(first + i * 4096L);
            assertThat(Long.decode(p.get("pfn").asText()) << 12).isEqualTo(first + i * 4096L);
        }
    }

    @Test
    void jsonVirtualShowsIovaAndLeaves() {
        Cli.Result r = Cli.run("map", "--json", "--mode", "virtual", "--pages", "5");
        assertThat(r.exit()).as(r.toString()).isZero();
        JsonNode v = r.json().get("virtual");
        assertThat(Long.decode(v.get("iova").asText())).isPositive();
        assertThat(v.get("size").asLong()).isEqualTo(5 * 4096L);
        assertThat(v.get("synced").asBoolean()).isTrue();
        long covered = 0;
        for (JsonNode l : v.get("leaves")) {
            covered += l.get("size").asLong();
            assertThat(l.get("target").asInt()).isEqualTo(1);
            assertThat(l.get("prot").asText()).isEqualTo("rw");
        }
        assertThat(covered).isEqualTo(5 * 4096L);
    }

    @Test
    void contigTwoMegabytesUsesATwoMegabyteLeaf() {
        Cli.Result r = Cli.run("map", "--json", "--mode", "virtual", "--size", "2M", "--contig", "--prealloc");
        assertThat(r.exit()).as(r.toString()).isZero();
        JsonNode v = r.json().get("virtual");
        assertThat(v.get("leafSizes").get("2097152").asInt()).isEqualTo(1);
        assertThat(v.get("leaves")).hasSize(1);
        assertThat(v.get("leaves").get(0).get("level").asInt()).isEqualTo(2);
        assertThat(v.get("prealloc").asBoolean()).isTrue();
        assertThat(v.get("allocationsDuringLink").asLong()).isZero();
        assertThat(r.json().get("memory").get("align").asLong()).isEqualTo(2L << 20);
    }

    @Test
    void alignOptionHumanShowsTwoMegabyteLeaf() {
        Cli.Result r = Cli.run("map", "--mode", "virtual", "--size", "2M", "--align", "2M");
        assertThat(r.exit()).as(r.toString()).isZero();
        assertThat(r.out()).contains("1 x 2 MiB", "aligned to 2 MiB");
    }

    @Test
    void localTargetNeedsNoGrant() {
        Cli.Result r = Cli.run("map", "--json", "--target", "0", "--initiator", "0", "--mode", "physical");
        assertThat(r.exit()).as(r.toString()).isZero();
        assertThat(r.json().get("granted").asBoolean()).isFalse();
    }
}
