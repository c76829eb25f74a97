package io.ualbridge.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

class ConformanceCommandTest {
    @Test
    void humanTableOnDefaultFake() {
        Cli.Result r = Cli.run("conformance", "--uri", "fake:", "--no-progress");
        assertThat(r.exit()).as(r.toString()).isZero();
        assertThat(r.out()).contains("Conformance of fake: (backend fake, accelerator 0 of 4)")
                .containsPattern("(?m)^check\\s+result\\s+time\\s+message$")
                .containsPattern("(?m)^stale-tlb-until-sync\\s+PASS\\s+[0-9.]+ ms$")
                .containsPattern("(?m)^fault-reason-mode\\s+SKIP\\s+-\\s+needs exactly one addressing mode")
                .containsPattern("31 checks: 30 passed, 0 failed, 1 skipped");
    }

    @Test
    void jsonWithSkipsAndReasons() {
        Cli.Result r = Cli.run("conformance", "--uri", "fake:?mode=virtual", "--json");
        assertThat(r.exit()).as(r.toString()).isZero();
        JsonNode j = r.json();
        assertThat(j.get("backend").asText()).isEqualTo("fake");
        assertThat(j.get("passed").asBoolean()).isTrue();
        assertThat(j.at("/capabilities/absent/PHYSICAL_MODE").asText()).contains("modes = virtual");
        JsonNode map = null;
        for (JsonNode x : j.get("results")) {
            if (x.get("check").asText().equals("map-pfns-physical")) {
                map = x;
            }
        }
        assertThat(map).isNotNull();
        assertThat(map.get("outcome").asText()).isEqualTo("SKIP");
        assertThat(map.get("message").asText()).contains("physical addressing mode");
        assertThat(j.at("/counts/fail").asInt()).isZero();
        assertThat(j.at("/counts/pass").asInt() + j.at("/counts/skip").asInt()).isEqualTo(31);
    }

    @Test
    void onlyRunsTheNamedChecksAndWritesJunitXml(@TempDir Path dir) throws Exception {
        Path xml = dir.resolve("conformance.xml");
        Cli.Result r = Cli.run("conformance", "--uri", "fake:?accels=1", "--only", "peers", "grants-and-revoke",
                "--junit-xml", xml.toString(), "--no-progress");
        assertThat(r.exit()).as(r.toString()).isZero();
        assertThat(r.out()).contains("2 checks: 1 passed, 0 failed, 1 skipped");
        Document doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(Files.newInputStream(xml));
        Element suite = doc.getDocumentElement();
        assertThat(suite.getTagName()).isEqualTo("testsuite");
        assertThat(suite.getAttribute("tests")).isEqualTo("2");
        assertThat(suite.getAttribute("skipped")).isEqualTo("1");
        assertThat(suite.getAttribute("failures")).isEqualTo("0");
        var cases = suite.getElementsByTagName("testcase");
        assertThat(cases.getLength()).isEqualTo(2);
        Element grants = (Element) cases.item(0);
        assertThat(grants.getAttribute("name")).isEqualTo("grants-and-revoke");
        Element skipped = (Element) grants.getElementsByTagName("skipped").item(0);
        assertThat(skipped.getAttribute("message")).contains("at least two accelerators");
    }

    @Test
    void unknownCheckIsAUsageError() {
        Cli.Result r = Cli.run("conformance", "--only", "no-such-check");
        assertThat(r.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(r.err()).contains("no check named 'no-such-check'");
    }

    @Test
    void listShowsChecksAndNeeds() {
        Cli.Result r = Cli.run("conformance", "--list");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).containsPattern("(?m)^large-page-2m\\s+virtual_mode, pages_2m\\s+512 contiguous");
    }

    @Test
    void badUriIsAUsageError() {
        Cli.Result r = Cli.run("conformance", "--uri", "fake:?accels=0");
        assertThat(r.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(r.err()).contains("--uri");
    }
}
