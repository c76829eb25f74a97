package io.ualbridge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class TranslateCommandTest {
    private static List<JsonNode> list(JsonNode array) {
        List<JsonNode> l = new ArrayList<>();
        array.forEach(l::add);
        return l;
    }

    @Test
    void translatesBothModes() {
        Cli.Result r = Cli.run("translate", "--json", "--pages", "4", "--offset", "0x1234", "--access", "write");
        assertThat(r.exit()).as(r.toString()).isZero();
        JsonNode j = r.json();
        long phys = Long.decode(j.get("memory").get("phys").asText());
        List<JsonNode> ts = list(j.get("translations"));
        assertThat(ts).hasSize(2);
        assertThat(ts).extracting(t -> t.get("mode").asText()).containsExactly("physical", "virtual");
        for (JsonNode t : ts) {
            assertThat(t.get("ok").asBoolean()).isTrue();
            assertThat(t.get("access").asText()).isEqualTo("write");
            JsonNode x = t.get("translation");
            assertThat(x.get("target").asInt()).isEqualTo(1);
            assertThat(Long.decode(x.get("phys").asText())).isEqualTo(phys + 0x1234);
            assertThat(x.get("pageSize").asLong()).isPositive();
        }
    }

    @Test
    void secondTranslationIsATlbHit() {
        Cli.Result r = Cli.run("translate", "--json", "--mode", "virtual", "--repeat", "2");
        assertThat(r.exit()).as(r.toString()).isZero();
        List<JsonNode> ts = list(r.json().get("translations"));
        assertThat(ts).extracting(t -> t.get("translation").get("tlbHit").asBoolean()).containsExactly(false, true);
    }

    @Test
    void humanOutputShowsTheTable() {
        Cli.Result r = Cli.run("translate", "--repeat", "2");
        assertThat(r.exit()).as(r.toString()).isZero();
        assertThat(r.out()).contains("Translations by accelerator 0", "TARGET", "PHYS", "PAGE", "TLB", "OK", "miss",
                "hit", "4 KiB");
    }

    @Test
    void ungrantedRequestShowsTheFault() {
        Cli.Result r = Cli.run("translate", "--json", "--no-grant", "--mode", "physical");
        assertThat(r.exit()).as(r.toString()).isEqualTo(ExitCodes.REFUSED);
        JsonNode t = r.json().get("translations").get(0);
        assertThat(t.get("ok").asBoolean()).isFalse();
        assertThat(t.get("error").asText()).isEqualTo("EACCES");
        assertThat(t.get("fault").get("reason").asText()).isEqualTo("NO_GRANT");
        assertThat(t.get("fault").get("target").asInt()).isEqualTo(1);
    }

    @Test
    void writeUnderReadOnlyMappingFaults() {
        Cli.Result r = Cli.run("translate", "--prot", "r", "--access", "write", "--mode", "virtual");
        assertThat(r.exit()).as(r.toString()).isEqualTo(ExitCodes.REFUSED);
        assertThat(r.out()).contains("FAULT PROT");
    }

    @Test
    void otherRequesterSeesNothingInItsDomain() {
        Cli.Result r = Cli.run("translate", "--json", "--mode", "virtual", "--by", "3");
        assertThat(r.exit()).as(r.toString()).isEqualTo(ExitCodes.REFUSED);
        JsonNode t = r.json().get("translations").get(0);
        assertThat(t.get("requester").asInt()).isEqualTo(3);
        assertThat(t.get("fault").get("reason").asText()).isEqualTo("NOT_PRESENT");
    }

    @Test
    void skipSyncShowsTheStaleTlb() {
        Cli.Result r = Cli.run("translate", "--json", "--mode", "virtual", "--skip-sync");
        assertThat(r.exit()).as(r.toString()).isEqualTo(ExitCodes.REFUSED);
        List<JsonNode> ts = list(r.json().get("translations"));
        assertThat(ts).hasSize(2);
        assertThat(ts.get(0).get("step").asText()).isEqualTo("before link");
        assertThat(ts.get(0).get("fault").get("reason").asText()).isEqualTo("NOT_PRESENT");
        assertThat(ts.get(1).get("fault").get("reason").asText()).isEqualTo("NOT_PRESENT");
        assertThat(ts.get(1).get("fault").get("fromTlb").asBoolean()).isTrue();
        assertThat(r.json().get("virtual").get("synced").asBoolean()).isFalse();
    }

    @Test
    void offsetPastTheEndIsAUsageError() {
        Cli.Result r = Cli.run("translate", "--pages", "2", "--offset", "8K");
        assertThat(r.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(r.err()).contains("--offset 0x2000", "past the end");
    }
}
