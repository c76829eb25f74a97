package io.ualbridge.cli;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class ErrorsTest {
    private static void assertNoStackTrace(Cli.Result r) {
        assertThat(r.err()).doesNotContain("\tat ").doesNotContain("Exception in");
        assertThat(r.out()).doesNotContain("\tat ");
    }

    @Test
    void unknownOption() {
        Cli.Result r = Cli.run("map", "--bogus");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("Unknown option: '--bogus'", "ualctl map --help");
        assertNoStackTrace(r);
    }

    @Test
    void unknownSubcommand() {
        Cli.Result r = Cli.run("frobnicate");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("frobnicate");
    }

    @Test
    void missingSubcommand() {
        Cli.Result r = Cli.run();
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("missing subcommand", "demo");
    }

    @Test
    void badProt() {
        Cli.Result r = Cli.run("map", "--prot", "x");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--prot", "'x' is not a protection");
        assertNoStackTrace(r);
    }

    @Test
    void badMode() {
        Cli.Result r = Cli.run("map", "--mode", "sideways");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--mode", "sideways");
    }

    @Test
    void badSize() {
        Cli.Result r = Cli.run("map", "--size", "lots");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--size", "'lots' is not a size");
    }

    @Test
    void targetOutOfRange() {
        Cli.Result r = Cli.run("map", "--target", "9");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--target 9", "no such accelerator", "0..3");
        assertNoStackTrace(r);
    }

    @Test
    void initiatorOutOfRange() {
        Cli.Result r = Cli.run("translate", "--initiator", "-1");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--initiator -1", "no such accelerator");
    }

    @Test
    void zeroPages() {
        Cli.Result r = Cli.run("map", "--pages", "0");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--pages must be at least 1");
        assertNoStackTrace(r);
    }

    @Test
    void pagesAndSizeTogether() {
        Cli.Result r = Cli.run("dump", "--pages", "2", "--size", "8K");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--pages and --size");
    }

    @Test
    void badAlign() {
        Cli.Result r = Cli.run("map", "--align", "3000");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--align 3000", "power of two");
    }

    @Test
    void malformedUri() {
        for (String uri : new String[] {"bogus", "fake:?accels=zero", "fake:?nonsense=1"}) {
            Cli.Result r = Cli.run("info", "--uri", uri);
            assertThat(r.exit()).as(uri + ": " + r).isEqualTo(2);
            assertThat(r.err()).as(uri).contains("--uri '" + uri + "'");
            assertNoStackTrace(r);
        }
    }

    @Test
    void libraryRefusalIsExitOneWithMessage() {
        Cli.Result r = Cli.run("map", "--size", "128M", "--mode", "physical");
        assertThat(r.exit()).as(r.toString()).isEqualTo(ExitCodes.LIBRARY);
        assertThat(r.err()).startsWith("ualctl: ").contains("ENOMEM");
        assertNoStackTrace(r);
    }

    @Test
    void libraryRefusalWithJsonAlsoPrintsAJsonError() {
        Cli.Result r = Cli.run("map", "--json", "--size", "128M");
        assertThat(r.exit()).isEqualTo(ExitCodes.LIBRARY);
        assertThat(r.json().get("error").asText()).isEqualTo("ENOMEM");
        assertThat(r.err()).startsWith("ualctl: ");
    }

    @Test
    void verbosePrintsTheStackTrace() {
        Cli.Result r = Cli.run("map", "-v", "--size", "128M");
        assertThat(r.exit()).isEqualTo(ExitCodes.LIBRARY);
        assertThat(r.err()).contains("UalException", "\tat ");
    }

    @Test
    void modeNotSupported() {
        Cli.Result r = Cli.run("map", "--uri", "fake:?mode=physical", "--mode", "virtual");
        assertThat(r.exit()).isEqualTo(ExitCodes.LIBRARY);
        assertThat(r.err()).contains("ENOTSUP");
    }

    @Test
    void helpAndVersion() {
        Cli.Result h = Cli.run("--help");
        assertThat(h.exit()).isZero();
        assertThat(h.out()).contains("info", "map", "translate", "dump", "grant", "revoke", "faults", "copy", "demo",
                "Exit codes");
        Cli.Result m = Cli.run("map", "--help");
        assertThat(m.exit()).isZero();
        assertThat(m.out()).contains("--uri", "--json", "--verbose", "--target", "--initiator", "--prot", "--mode",
                "--contig", "--align");
    }
}
