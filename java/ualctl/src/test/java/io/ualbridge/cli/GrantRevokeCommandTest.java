package io.ualbridge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class GrantRevokeCommandTest {
    @Test
    void grantLetsTheInitiatorIn() {
        Cli.Result r = Cli.run("grant", "--json", "--initiator", "2", "--pages", "2", "--prot", "r");
        assertThat(r.exit()).as(r.toString()).isZero();
        JsonNode j = r.json();
        assertThat(j.get("target").asInt()).isZero();
        assertThat(j.get("initiator").asInt()).isEqualTo(2);
        assertThat(j.get("grantsAfter").asLong()).isEqualTo(j.get("grantsBefore").asLong() + 1);
        assertThat(j.get("effect")).hasSize(2).allSatisfy(p -> {
            assertThat(p.get("before").get("read").asText()).isEqualTo("NO_GRANT");
            assertThat(p.get("before").get("write").asText()).isEqualTo("NO_GRANT");
            assertThat(p.get("after").get("read").asText()).isEqualTo("ok");
            assertThat(p.get("after").get("write").asText()).isEqualTo("GRANT_PROT");
        });
    }

    @Test
    void grantHumanOutput() {
        Cli.Result r = Cli.run("grant");
        assertThat(r.exit()).as(r.toString()).isZero();
        assertThat(r.out()).contains("Accelerator 0 grants initiator 1 rw", "READ BEFORE", "WRITE AFTER", "NO_GRANT",
                "ok");
    }

    @Test
    void grantToTheLocalAcceleratorIsAUsageError() {
        Cli.Result r = Cli.run("grant", "--initiator", "0");
        assertThat(r.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(r.err()).contains("--initiator 0", "local");
    }

    @Test
    void revokeInsideAGrantSplitsIt() {
        Cli.Result r = Cli.run("revoke", "--json", "--pages", "4", "--first", "1", "--count", "2");
        assertThat(r.exit()).as(r.toString()).isZero();
        JsonNode j = r.json();
        assertThat(j.get("grantsBefore").asLong()).isEqualTo(1);
        assertThat(j.get("grantsAfter").asLong()).isEqualTo(2);
        JsonNode e = j.get("effect");
        for (int i = 0; i < 4; i++) {
            assertThat(e.get(i).get("before").get("read").asText()).isEqualTo("ok");
            assertThat(e.get(i).get("after").get("read").asText()).isEqualTo(i == 1 || i == 2 ? "NO_GRANT" : "ok");
        }
    }

    @Test
    void revokeHumanOutput() {
        Cli.Result r = Cli.run("revoke");
        assertThat(r.exit()).as(r.toString()).isZero();
        assertThat(r.out()).contains("Revoked PFN", "4 pages", "READ AFTER", "NO_GRANT");
    }

    @Test
    void revokeRangeOutsideTheBlockIsAUsageError() {
        Cli.Result r = Cli.run("revoke", "--pages", "2", "--first", "1", "--count", "5");
        assertThat(r.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(r.err()).contains("--count 5");
    }
}
