package io.ualbridge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class CopyCommandTest {
    @Test
    void physicalCopyIsVerified() {
        Cli.Result r = Cli.run("copy", "--json", "--size", "256K", "--chunk", "64K");
        assertThat(r.exit()).as(r.toString()).isZero();
        JsonNode j = r.json();
        assertThat(j.get("from").asInt()).isEqualTo(1);
        assertThat(j.get("to").asInt()).isZero();
        assertThat(j.get("verified").asBoolean()).isTrue();
        JsonNode c = j.get("copies").get(0);
        assertThat(c.get("mode").asText()).isEqualTo("physical");
        assertThat(c.get("bytes").asLong()).isEqualTo(256 * 1024);
        assertThat(c.get("requests").asLong()).isEqualTo(1024);
        assertThat(c.get("calls").asLong()).isEqualTo(4);
        assertThat(c.get("src").get("target").asInt()).isEqualTo(1);
        assertThat(c.get("verified").asBoolean()).isTrue();
    }

    @Test
    void bothModesThroughAThirdInitiator() {
        Cli.Result r = Cli.run("copy", "--json", "--size", "64K", "--from", "2", "--to", "3", "--initiator", "1",
                "--mode", "both");
        assertThat(r.exit()).as(r.toString()).isZero();
        JsonNode copies = r.json().get("copies");
        assertThat(copies).hasSize(2);
        assertThat(copies.get(0).get("mode").asText()).isEqualTo("physical");
        assertThat(copies.get(1).get("mode").asText()).isEqualTo("virtual");
        assertThat(copies.get(1).get("src").get("routed").asBoolean()).isFalse();
        assertThat(copies).allSatisfy(c -> assertThat(c.get("verified").asBoolean()).isTrue());
    }

    @Test
    void humanOutputReportsThroughput() {
        Cli.Result r = Cli.run("copy", "--size", "128K", "--no-progress");
        assertThat(r.exit()).as(r.toString()).isZero();
        assertThat(r.out()).contains("Copy 128 KiB from accelerator 1 to accelerator 0", "REQUESTS", "THROUGHPUT",
                "MiB/s", "PASS (every byte)");
    }

    @Test
    void hostRoundTripInBothModesIsVerified() {
        Cli.Result r = Cli.run("copy", "--json", "--via-host", "--size", "12224", "--chunk", "4K", "--mode", "both");
        assertThat(r.exit()).as(r.toString()).isZero();
        JsonNode copies = r.json().get("copies");
        assertThat(copies).hasSize(2);
        assertThat(copies.get(0).get("mode").asText()).isEqualTo("physical (host round trip)");
        assertThat(copies.get(1).get("mode").asText()).isEqualTo("virtual (host round trip)");
        // Physical mode: the source is a host page in the local accelerator's host aperture (bit 56).
        assertThat(Long.decode(copies.get(0).get("src").get("address").asText())).isGreaterThanOrEqualTo(1L << 56);
        assertThat(copies.get(1).get("src").get("routed").asBoolean()).isFalse();
        assertThat(copies).allSatisfy(c -> {
            assertThat(c.get("verified").asBoolean()).isTrue();
            assertThat(c.get("bytes").asLong()).isEqualTo(2 * 12224);
        });
    }

    @Test
    void aSingleAcceleratorFabricCopiesThroughTheHost() {
        Cli.Result r = Cli.run("copy", "--uri", "fake:?accels=1", "--size", "4032", "--no-progress");
        assertThat(r.exit()).as(r.toString()).isZero();
        assertThat(r.out()).contains("physical (host round trip)", "PASS (every byte)");
    }

    @Test
    void sizeNotAMultipleOf64IsAUsageError() {
        Cli.Result r = Cli.run("copy", "--size", "100");
        assertThat(r.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(r.err()).contains("--size 100", "multiple of 64");
    }
}
