package io.ualbridge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class DumpCommandTest {
    @Test
    void jsonListsLeavesAndPool() {
        Cli.Result r = Cli.run("dump", "--json", "--pages", "3", "--target", "2");
        assertThat(r.exit()).as(r.toString()).isZero();
        JsonNode j = r.json();
        JsonNode leaves = j.get("leaves");
        assertThat(leaves).hasSize(3);
        long iova = Long.decode(j.get("virtual").get("iova").asText());
        long phys = Long.decode(j.get("memory").get("phys").asText());
        for (int i = 0; i < 3; i++) {
            JsonNode l = leaves.get(i);
            assertThat(Long.decode(l.get("iova").asText())).isEqualTo(iova + i * 4096L);
            assertThat(Long.decode(l.get("phys").asText())).isEqualTo(phys + i * 4096L);
            assertThat(l.get("size").asLong()).isEqualTo(4096);
            assertThat(l.get("level").asInt()).isEqualTo(1);
            assertThat(l.get("target").asInt()).isEqualTo(2);
            assertThat(l.get("prot").asText()).isEqualTo("rw");
        }
        JsonNode pool = j.get("pool");
        assertThat(pool.get("usedByRange").asLong()).isPositive();
        assertThat(pool.get("mappedPages").asLong()).isEqualTo(3);
        assertThat(pool.get("iovaRanges").asLong()).isEqualTo(1);
    }

    @Test
    void largeContiguousRangeUsesTwoMegabyteLeaves() {
        Cli.Result r = Cli.run("dump", "--json", "--size", "4M", "--contig");
        assertThat(r.exit()).as(r.toString()).isZero();
        JsonNode leaves = r.json().get("leaves");
        assertThat(leaves).hasSize(2);
        assertThat(leaves).allSatisfy(l -> {
            assertThat(l.get("size").asLong()).isEqualTo(2L << 20);
            assertThat(l.get("level").asInt()).isEqualTo(2);
        });
    }

    @Test
    void humanOutputShowsTableAndPool() {
        Cli.Result r = Cli.run("dump", "--pages", "2", "--prealloc");
        assertThat(r.exit()).as(r.toString()).isZero();
        assertThat(r.out()).contains("Page-table leaf entries", "IOVA", "SIZE", "LEVEL", "TARGET", "PHYS", "PROT",
                "Page-table pool", "free pages", "mapped 4 KiB pages", "allocations during the link: 0");
    }
}
