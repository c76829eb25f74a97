package io.ualbridge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class InfoCommandTest {
    @Test
    void humanOutputListsTheDevice() {
        Cli.Result r = Cli.run("info");
        assertThat(r.exit()).as(r.toString()).isZero();
        assertThat(r.out()).contains("Backend", "fake", "Accelerator", "0 of 4", "Modes", "physical, virtual",
                "Page sizes", "4 KiB, 64 KiB, 2 MiB", "DMA bits", "48", "Memory", "64 MiB", "Page-table pool", "TLB",
                "512 entries");
        assertThat(r.err()).isEmpty();
    }

    @Test
    void jsonHasEveryField() {
        Cli.Result r = Cli.run("info", "--json", "--uri", "fake:?accels=8&local=3&dma_bits=39");
        assertThat(r.exit()).as(r.toString()).isZero();
        JsonNode j = r.json();
        assertThat(j.get("backend").asText()).isEqualTo("fake");
        assertThat(j.get("acceleratorId").asInt()).isEqualTo(3);
        assertThat(j.get("acceleratorCount").asInt()).isEqualTo(8);
        assertThat(j.get("dmaBits").asInt()).isEqualTo(39);
        assertThat(j.get("physBits").asInt()).isEqualTo(57);
        assertThat(j.get("modes")).extracting(JsonNode::asText).containsExactly("physical", "virtual");
        assertThat(j.get("pageSizes")).extracting(JsonNode::asLong).containsExactly(4096L, 65536L, 2097152L);
        assertThat(j.get("memorySize").asLong()).isEqualTo(64L << 20);
        assertThat(j.get("memoryFree").asLong()).isEqualTo(64L << 20);
        for (String f : new String[] {"pageTableLevels", "ptPoolPages", "ptPoolFree", "tlbEntries", "tlbHits",
            "tlbMisses", "iovaRanges", "mappedPages", "grants", "requestMin", "requestMax", "abiVersion"}) {
            assertThat(j.has(f)).as(f).isTrue();
        }
        assertThat(j.get("requestMin").asInt()).isEqualTo(64);
        assertThat(j.get("requestMax").asInt()).isEqualTo(256);
    }

    @Test
    void describesAnotherAccelerator() {
        Cli.Result r = Cli.run("info", "--json", "--accel", "2");
        assertThat(r.exit()).as(r.toString()).isZero();
        assertThat(r.json().get("acceleratorId").asInt()).isEqualTo(2);
    }

    @Test
    void physicalOnlyFabric() {
        Cli.Result r = Cli.run("info", "--json", "--uri", "fake:?mode=physical");
        assertThat(r.exit()).as(r.toString()).isZero();
        assertThat(r.json().get("modes")).extracting(JsonNode::asText).containsExactly("physical");
    }
}
