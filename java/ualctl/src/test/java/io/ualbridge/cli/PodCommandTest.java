package io.ualbridge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.ualbridge.DeviceMemory;
import io.ualbridge.Prot;
import io.ualbridge.UalDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

class PodCommandTest {
    private static final AtomicInteger SEQ = new AtomicInteger();
    private final List<Path> files = new ArrayList<>();

    private String path() {
        Path p = Path.of("/dev/shm", "ualctl-podtest-" + ProcessHandle.current().pid() + "-" + SEQ.incrementAndGet());
        files.add(p);
        return p.toString();
    }

    @AfterEach
    void deleteFiles() throws IOException {
        for (Path p : files) {
            Files.deleteIfExists(p);
        }
    }

    @Test
    void createThenStatus() {
        String path = path();
        Cli.Result r = Cli.run("pod", "create", path, "--accels", "2", "--mem", "2M", "--mode", "physical");
        assertThat(r.exit()).as(r.toString()).isZero();
        assertThat(r.out()).contains("Created pod " + path, "2 accelerators", "2 MiB", "physical mode",
                "fake:" + path + "?local=N");

        Cli.Result s = Cli.run("pod", "status", path, "--json");
        assertThat(s.exit()).as(s.toString()).isZero();
        JsonNode j = s.json();
        assertThat(j.get("path").asText()).isEqualTo(path);
        assertThat(j.get("acceleratorCount").asInt()).isEqualTo(2);
        assertThat(j.get("memorySize").asLong()).isEqualTo(2L << 20);
        assertThat(j.get("modes")).hasSize(1);
        assertThat(j.get("modes").get(0).asText()).isEqualTo("physical");
        assertThat(j.get("poisoned").asBoolean()).isFalse();
        assertThat(j.get("domains")).isEmpty();
        assertThat(j.get("grants")).isEmpty();
        assertThat(j.get("accelerators")).hasSize(2).allSatisfy(a -> {
            assertThat(a.get("state").asText()).isEqualTo("FREE");
            assertThat(a.get("ownerPid").isNull()).isTrue();
        });
    }

    @Test
    void relativePathsAreTakenFromTheCurrentDirectory() {
        String path = path();
        String relative = Path.of("").toAbsolutePath().relativize(Path.of(path)).toString();
        assertThat(relative).doesNotStartWith("/");
        Cli.Result r = Cli.run("pod", "create", relative, "--json");
        assertThat(r.exit()).as(r.toString()).isZero();
        assertThat(r.json().get("uri").asText()).isEqualTo("fake:" + path);
        assertThat(Path.of(path)).exists();
        assertThat(Cli.run("pod", "status", relative, "--json").json().get("path").asText()).isEqualTo(path);
    }

    @Test
    void createJson() {
        String path = path();
        Cli.Result r = Cli.run("pod", "create", path, "--json", "--option", "tlb=64");
        assertThat(r.exit()).as(r.toString()).isZero();
        assertThat(r.json().get("created").asBoolean()).isTrue();
        assertThat(r.json().get("uri").asText()).isEqualTo("fake:" + path + "?tlb=64");
        assertThat(r.json().get("pod").get("acceleratorCount").asInt()).isEqualTo(4);
    }

    @Test
    void createRefusesAnExistingPodUnlessReplacing() {
        String path = path();
        assertThat(Cli.run("pod", "create", path).exit()).isZero();
        Cli.Result again = Cli.run("pod", "create", path, "--accels", "8");
        assertThat(again.exit()).as(again.toString()).isEqualTo(ExitCodes.LIBRARY);
        assertThat(again.err()).contains("EEXIST");
        Cli.Result json = Cli.run("pod", "create", path, "--json");
        assertThat(json.exit()).isEqualTo(ExitCodes.LIBRARY);
        assertThat(json.json().get("error").asText()).isEqualTo("EEXIST");
        Cli.Result replaced = Cli.run("pod", "create", path, "--accels", "8", "--replace", "--json");
        assertThat(replaced.exit()).as(replaced.toString()).isZero();
        assertThat(replaced.json().get("pod").get("acceleratorCount").asInt()).isEqualTo(8);
    }

    @Test
    void badArguments() {
        String path = path();
        Cli.Result mode = Cli.run("pod", "create", path, "--mode", "sideways");
        assertThat(mode.exit()).isEqualTo(ExitCodes.USAGE);
        Cli.Result accels = Cli.run("pod", "create", path, "--accels", "0");
        assertThat(accels.exit()).as(accels.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(accels.err()).contains("accels");
        Cli.Result opt = Cli.run("pod", "create", path, "--option", "bogus=1");
        assertThat(opt.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(opt.err()).contains("bogus");
        Cli.Result malformed = Cli.run("pod", "create", path, "--option", "novalue");
        assertThat(malformed.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(malformed.err()).contains("KEY=VALUE");
        Cli.Result local = Cli.run("pod", "create", path, "--option", "local=1");
        assertThat(local.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(Path.of(path)).doesNotExist();
        assertThat(Cli.run("pod", "create").exit()).isEqualTo(ExitCodes.USAGE);
        Cli.Result none = Cli.run("pod");
        assertThat(none.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(none.err()).contains("missing subcommand", "create", "status");
    }

    @Test
    void statusOfAMissingFile() {
        String path = path();
        Cli.Result r = Cli.run("pod", "status", path);
        assertThat(r.exit()).isEqualTo(ExitCodes.LIBRARY);
        assertThat(r.err()).contains("ENOENT");
        assertThat(r.err()).doesNotContain("\tat ");
        Cli.Result j = Cli.run("pod", "status", path, "--json");
        assertThat(j.json().get("error").asText()).isEqualTo("ENOENT");
    }

    @Test
    void statusShowsDomainsAcceleratorsAndGrants() {
        String path = path();
        assertThat(Cli.run("pod", "create", path, "--accels", "2", "--mem", "1M").exit()).isZero();
        try (UalDevice d = UalDevice.open("fake:" + path + "?local=1"); DeviceMemory m = d.allocMemory(8192, 0)) {
            d.grant(1, 0, m.firstPfn(), 2, Prot.RW);
            Cli.Result r = Cli.run("pod", "status", path);
            assertThat(r.exit()).as(r.toString()).isZero();
            String pid = Long.toString(ProcessHandle.current().pid());
            assertThat(r.out()).contains("Pod", path, "Poisoned", "no", "Domains: 1 live", "SLOT", "PID", pid,
                    "HOST", "COMMAND", "SINCE", "Accelerators:", "OWNED", "FREE", "8 KiB", "Grants: 1", "->",
                    Fmt.hex(m.firstPfn()), "rw");

            JsonNode j = Cli.run("pod", "status", path, "--json").json();
            JsonNode dom = j.get("domains").get(0);
            assertThat(dom.get("pid").asText()).isEqualTo(pid);
            assertThat(dom.get("accels").asInt()).isEqualTo(1);
            assertThat(dom.get("handles").asInt()).isEqualTo(1);
            assertThat(dom.has("since") && dom.has("host") && dom.has("comm") && dom.has("slot")).isTrue();
            JsonNode a1 = j.get("accelerators").get(1);
            assertThat(a1.get("state").asText()).isEqualTo("OWNED");
            assertThat(a1.get("ownerPid").asText()).isEqualTo(pid);
            assertThat(a1.get("ownerSlot").asInt()).isEqualTo(dom.get("slot").asInt());
            assertThat(a1.get("memUsed").asLong()).isEqualTo(8192);
            JsonNode g = j.get("grants").get(0);
            assertThat(g.get("target").asInt()).isEqualTo(1);
            assertThat(g.get("initiator").asInt()).isZero();
            assertThat(g.get("pfn").asLong()).isEqualTo(m.firstPfn());
            assertThat(g.get("pages").asInt()).isEqualTo(2);
            assertThat(g.get("prot").asText()).isEqualTo("rw");
        }
    }

    @Test
    void existingSubcommandsWorkOnAPod() {
        String path = path();
        assertThat(Cli.run("pod", "create", path, "--accels", "2").exit()).isZero();
        Cli.Result info = Cli.run("info", "--json", "--uri", "fake:" + path + "?local=1");
        assertThat(info.exit()).as(info.toString()).isZero();
        assertThat(info.json().get("acceleratorId").asInt()).isEqualTo(1);
        assertThat(info.json().get("acceleratorCount").asInt()).isEqualTo(2);
        Cli.Result faults = Cli.run("faults", "--json", "--uri", "fake:" + path + "?local=0");
        assertThat(faults.exit()).as(faults.toString()).isZero();
    }
}
