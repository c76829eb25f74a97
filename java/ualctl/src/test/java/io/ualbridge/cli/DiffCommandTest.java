package io.ualbridge.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

class DiffCommandTest {
    @Test
    void identicalFakesAgree() {
        Cli.Result r = Cli.run("diff", "--uri", "fake:?accels=2", "--against", "fake:?accels=2", "--seed", "5",
                "--ops", "300");
        assertThat(r.exit()).as(r.toString()).isZero();
        assertThat(r.out()).contains("fake:?accels=2 and fake:?accels=2 agree on all 300 operations of seed 5.");
    }

    @Test
    void divergenceIsReportedWithContextAndExit4() {
        Cli.Result r = Cli.run("diff", "--uri", "fake:?accels=2&mem=8M", "--against", "fake:?accels=2&mem=8M&tlb=1",
                "--seed", "3", "--ops", "2000", "--ignore-config");
        assertThat(r.exit()).as(r.toString()).isEqualTo(ExitCodes.CHECK_FAILED);
        assertThat(r.out()).containsPattern("DIVERGE at operation \\d+ of seed 3: ")
                .containsPattern("(?m)^  --uri:\\s+\\S")
                .containsPattern("(?m)^  --against:\\s+\\S")
                .contains("before it (both sides agreed)");
    }

    @Test
    void jsonNamesTheFirstDivergence() {
        Cli.Result r = Cli.run("diff", "--uri", "fake:", "--against", "fake:?pt_pool=64", "--json");
        assertThat(r.exit()).isEqualTo(ExitCodes.CHECK_FAILED);
        JsonNode j = r.json();
        assertThat(j.get("identical").asBoolean()).isFalse();
        assertThat(j.at("/divergence/index").asInt()).isZero();
        assertThat(j.at("/divergence/operation").asText()).isEqualTo("open");
        assertThat(j.at("/divergence/against").asText()).contains("ptPool=64");
        assertThat(j.at("/divergence/uri").asText()).contains("ptPool=4096");
    }

    @Test
    void jsonWhenIdentical() {
        Cli.Result r = Cli.run("diff", "--against", "fake:", "--ops", "50", "--json");
        assertThat(r.exit()).isZero();
        assertThat(r.json().get("opsRun").asInt()).isEqualTo(50);
        assertThat(r.json().get("divergence").isNull()).isTrue();
    }

    @Test
    void badAgainstUriIsAUsageError() {
        Cli.Result r = Cli.run("diff", "--against", "nosuch:");
        assertThat(r.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(r.err()).contains("--against 'nosuch:'");
    }

    @Test
    void againstIsRequired() {
        Cli.Result r = Cli.run("diff");
        assertThat(r.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(r.err()).contains("--against");
    }
}
