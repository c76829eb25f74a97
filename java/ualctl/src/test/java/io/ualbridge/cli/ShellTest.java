package io.ualbridge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.ualbridge.Access;
import io.ualbridge.DeviceInfo;
import io.ualbridge.DeviceMemory;
import io.ualbridge.ErrorCode;
import io.ualbridge.FabricAddress;
import io.ualbridge.Prot;
import io.ualbridge.UalDevice;
import io.ualbridge.UalException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/**
 * The shell's protocol on in-process fabrics. Where two domains are needed, the shell drives accelerator 0 of a
 * named fabric and the test holds accelerator 1 of it, issuing commands one at a time in between.
 */
class ShellTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final HexFormat HEX = HexFormat.of();
    private static final AtomicInteger SEQ = new AtomicInteger();

    record Run(int exit, List<JsonNode> lines, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exit + "\n--- stdout\n" + out + "--- stderr\n" + err;
        }
    }

    /** Runs 'ualctl shell ARGS' through the real command line with STDIN as its input. */
    static Run shell(String stdin, String... args) {
        CommandLine cl = Ualctl.commandLine();
        ((ShellCommand) cl.getSubcommands().get("shell").getCommand()).in =
                new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        String[] full = new String[args.length + 1];
        full[0] = "shell";
        System.arraycopy(args, 0, full, 1, args.length);
        int exit = cl.execute(full);
        List<JsonNode> lines = new ArrayList<>();
        for (String l : out.toString().split("\n")) {
            if (l.isEmpty()) {
                continue;
            }
            try {
                lines.add(MAPPER.readTree(l));
            } catch (Exception e) {
                throw new AssertionError("not one JSON document per line: " + l + "\n" + out, e);
            }
        }
        return new Run(exit, lines, out.toString(), err.toString());
    }

    // ---- a shell driven a command at a time, next to a second domain held by the test -----------------------------

    private String fabric;
    private UalDevice peer;
    private Shell sh;
    private StringWriter shOut;
    private StringWriter shErr;

    @BeforeEach
    void open() {
        fabric = "shelltest" + SEQ.incrementAndGet();
        peer = UalDevice.open("fake:" + fabric + "?accels=2&mem=1M&local=1");
        shOut = new StringWriter();
        shErr = new StringWriter();
        sh = new Shell(UalDevice.open("fake:" + fabric), new PrintWriter(shOut), new PrintWriter(shErr), false);
    }

    @AfterEach
    void close() {
        sh.close();
        peer.close();
    }

    /** Runs one command in the stepwise shell and returns its answer, checking it is one line naming the command. */
    JsonNode cmd(String line) {
        int before = shOut.toString().length();
        assertThat(sh.execute(line)).as("shell goes on after %s", line).isTrue();
        String answer = shOut.toString().substring(before);
        assertThat(answer).as(line).endsWith("\n");
        assertThat(answer.strip()).as("one line for %s", line).doesNotContain("\n");
        try {
            JsonNode n = MAPPER.readTree(answer);
            assertThat(n.get("cmd").asText()).isEqualTo(line.strip());
            return n;
        } catch (Exception e) {
            throw new AssertionError("bad answer to " + line + ": " + answer, e);
        }
    }

    static JsonNode ok(JsonNode n) {
        assertThat(n.get("ok").asBoolean()).as(n.toString()).isTrue();
        return n;
    }

    static JsonNode refused(JsonNode n, String error) {
        assertThat(n.get("ok").asBoolean()).as(n.toString()).isFalse();
        assertThat(n.get("error").asText()).as(n.toString()).isEqualTo(error);
        assertThat(n.get("message").asText()).as(n.toString()).isNotBlank();
        if (!error.equals("USAGE")) {
            assertThat(n.get("code").asInt()).as(n.toString()).isEqualTo(ErrorCode.valueOf(error).code());
        }
        return n;
    }

    static byte[] pattern(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 31 + seed * 7 + 1);
        }
        return b;
    }

    // ---- tests ---------------------------------------------------------------------------------------------------

    @Test
    void protocolOverStdin() {
        Run r = shell("""
                # a comment, then a blank line

                alloc a 8K
                write a 0x10 DEADbeef
                read a 16 4
                read a 0 2
                info
                bogus
                read nope 0 1
                alloc a 4096
                alloc b 100
                quit
                read a 0 1
                """, "--uri", "fake:?accels=2");
        assertThat(r.exit()).as(r.toString()).isZero();
        List<JsonNode> l = r.lines();
        assertThat(l).as(r.toString()).hasSize(11);
        JsonNode ready = l.get(0);
        assertThat(ready.get("ready").asBoolean()).isTrue();
        assertThat(ready.get("accel").asInt()).isZero();
        assertThat(ready.get("accels").asInt()).isEqualTo(2);
        assertThat(ready.get("uri").asText()).isEqualTo("fake:?accels=2");
        JsonNode alloc = ok(l.get(1));
        assertThat(alloc.get("cmd").asText()).isEqualTo("alloc a 8K");
        assertThat(alloc.get("pages").asInt()).isEqualTo(2);
        assertThat(alloc.get("pfn").isIntegralNumber()).isTrue();
        assertThat(ok(l.get(2)).get("bytes").asInt()).isEqualTo(4);
        assertThat(ok(l.get(3)).get("hex").asText()).isEqualTo("deadbeef");
        assertThat(ok(l.get(4)).get("hex").asText()).isEqualTo("0000");
        JsonNode info = ok(l.get(5));
        assertThat(info.get("acceleratorCount").asInt()).isEqualTo(2);
        assertThat(info.get("backend").asText()).isEqualTo("fake");
        assertThat(refused(l.get(6), "USAGE").get("message").asText()).contains("unknown command 'bogus'");
        assertThat(refused(l.get(7), "USAGE").get("message").asText()).contains("no block named 'nope'", "a");
        assertThat(refused(l.get(8), "USAGE").get("message").asText()).contains("'a' exists");
        JsonNode einval = refused(l.get(9), "EINVAL");
        assertThat(einval.get("code").asInt()).isEqualTo(-22);
        assertThat(einval.get("message").asText()).contains("mem_alloc");
        assertThat(ok(l.get(10)).get("cmd").asText()).isEqualTo("quit");
    }

    @Test
    void eofEndsTheShellAndFreesEverything() {
        Run r = shell("alloc a 64K\nalloc b 4K\ngrant a 1 r\n", "--uri", "fake:" + fabric);
        assertThat(r.exit()).as(r.toString()).isZero();
        assertThat(r.lines()).hasSize(4);
        assertThat(r.lines().subList(1, 4)).allSatisfy(ShellTest::ok);
        // The fabric lives on through the test's handles: the shell's accelerator has nothing left.
        try (UalDevice zero = peer.openPeer(0)) {
            DeviceInfo i = zero.info();
            assertThat(i.memoryFree()).isEqualTo(i.memorySize());
            assertThat(i.grants()).isZero();
        }
    }

    @Test
    void openFailureSaysSoOnStdout() {
        Run r = shell("info\n", "--uri", "fake:?accels=0");
        assertThat(r.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(r.lines()).hasSize(1);
        JsonNode n = r.lines().get(0);
        assertThat(n.get("ready").asBoolean()).isFalse();
        assertThat(n.get("error").asText()).isEqualTo("EINVAL");
        assertThat(n.get("message").asText()).contains("accels");
        assertThat(r.err()).contains("ualctl: --uri");
    }

    @ParameterizedTest
    @ValueSource(strings = {"physical", "virtual"})
    void fabricReadThroughAGrant(String mode) {
        DeviceMemory m = peer.allocMemory(2 * 4096, 0);
        byte[] data = pattern(2 * 4096, 3);
        m.write(0, data);
        peer.grant(1, 0, m.firstPfn(), 1, Prot.READ);
        long pfn = m.firstPfn();

        // aligned, unaligned, a single byte, up to the end of the granted page
        for (long[] c : new long[][] {{0, 64}, {100, 17}, {4095, 1}, {3000, 1096}}) {
            JsonNode n = ok(cmd("fabric-read 1 " + pfn + " " + c[0] + " " + c[1] + " --mode " + mode));
            assertThat(n.get("hex").asText()).as("bytes %d+%d", c[0], c[1])
                    .isEqualTo(HEX.formatHex(data, (int) c[0], (int) (c[0] + c[1])));
            assertThat(n.get("mode").asText()).isEqualTo(mode);
        }
        // hex PFN works too
        assertThat(ok(cmd("fabric-read 1 0x" + Long.toHexString(pfn) + " 8 8 --mode=" + mode)).get("hex").asText())
                .isEqualTo(HEX.formatHex(data, 8, 16));

        // write under a read-only grant, read of the ungranted second page, read straddling into it
        refused(cmd("fabric-write 1 " + pfn + " 0 00112233 --mode " + mode), "EACCES");
        refused(cmd("fabric-write 1 " + pfn + " 64 " + "00".repeat(64) + " --mode " + mode), "EACCES");
        refused(cmd("fabric-read 1 " + pfn + " 4096 16 --mode " + mode), "EACCES");
        refused(cmd("fabric-read 1 " + pfn + " 4090 16 --mode " + mode), "EACCES");
        assertThat(m.read(0, data.length)).as("refused writes changed nothing").isEqualTo(data);

        // both ends recorded the refusals
        JsonNode faults = ok(cmd("faults")).get("faults");
        assertThat(faults).isNotEmpty();
        List<String> reasons = new ArrayList<>();
        faults.forEach(f -> {
            reasons.add(f.get("reason").asText());
            assertThat(f.get("initiator").asInt()).isZero();
            assertThat(f.get("target").asInt()).isEqualTo(1);
            assertThat(f.has("seq") && f.has("addr") && f.has("access") && f.has("flags")).isTrue();
        });
        assertThat(reasons).contains("GRANT_PROT", "NO_GRANT");
        assertThat(faults.findValuesAsText("access")).contains("write", "read");
        assertThat(ok(cmd("faults")).get("faults")).as("drained").isEmpty();
        assertThat(peer.readFaults(64).faults()).isNotEmpty().allSatisfy(f -> assertThat(f.atTarget()).isTrue());

        peer.revoke(1, 0, pfn, 1);
        refused(cmd("fabric-read 1 " + pfn + " 0 64 --mode " + mode), "EACCES");
    }

    @ParameterizedTest
    @ValueSource(strings = {"physical", "virtual"})
    void fabricWriteChangesExactlyItsBytes(String mode) {
        DeviceMemory m = peer.allocMemory(2 * 4096, 0);
        byte[] data = pattern(2 * 4096, 5);
        m.write(0, data);
        peer.grant(1, 0, m.firstPfn(), 2, Prot.RW);
        // aligned blocks; a partial block at each end spanning blocks; inside one block; across the page boundary
        for (long[] c : new long[][] {{128, 128}, {70, 200}, {200, 5}, {4090, 12}}) {
            byte[] w = pattern((int) c[1], (int) c[0]);
            ok(cmd("fabric-write 1 " + m.firstPfn() + " " + c[0] + " " + HEX.formatHex(w) + " --mode " + mode));
            System.arraycopy(w, 0, data, (int) c[0], w.length);
            assertThat(m.read(0, data.length)).as("after writing %d+%d", c[0], c[1]).isEqualTo(data);
            assertThat(ok(cmd("fabric-read 1 " + m.firstPfn() + " " + c[0] + " " + c[1] + " --mode " + mode))
                    .get("hex").asText()).isEqualTo(HEX.formatHex(w));
        }
        // a write-only grant: whole blocks go through, a partial block needs a read first and is refused
        peer.revoke(1, 0, m.firstPfn(), 2);
        peer.grant(1, 0, m.firstPfn(), 2, Prot.WRITE);
        ok(cmd("fabric-write 1 " + m.firstPfn() + " 0 " + "ab".repeat(64) + " --mode " + mode));
        refused(cmd("fabric-write 1 " + m.firstPfn() + " 1 ab --mode " + mode), "EACCES");
        refused(cmd("fabric-read 1 " + m.firstPfn() + " 0 64 --mode " + mode), "EACCES");
        assertThat(m.read(0, 64)).containsOnly((byte) 0xab);
    }

    @Test
    void shellGrantsLetTheOtherDomainIn() {
        JsonNode a = ok(cmd("alloc buf 16K"));
        long pfn = a.get("pfn").asLong();
        ok(cmd("write buf 4096 cafe"));
        JsonNode g = ok(cmd("grant buf 1 r --offset 4096 --len 8192"));
        assertThat(g.get("pfn").asLong()).isEqualTo(pfn + 1);
        assertThat(g.get("pages").asInt()).isEqualTo(2);
        assertThat(g.get("prot").asText()).isEqualTo("r-");
        assertThat(g.get("target").asInt()).isZero();
        assertThat(g.get("initiator").asInt()).isEqualTo(1);

        FabricAddress granted = FabricAddress.physical(0, (pfn + 1) << 12);
        FabricAddress notGranted = FabricAddress.physical(0, pfn << 12);
        assertThat(peer.translate(1, granted, Access.READ).phys()).isEqualTo((pfn + 1) << 12);
        assertThat(catchThrowableOfType(UalException.class, () -> peer.translate(1, granted, Access.WRITE)).error())
                .isEqualTo(ErrorCode.EACCES);
        assertThat(catchThrowableOfType(UalException.class, () -> peer.translate(1, notGranted, Access.READ))
                .error()).isEqualTo(ErrorCode.EACCES);

        ok(cmd("revoke buf 1 --offset 4096 --len 4096"));
        assertThat(catchThrowableOfType(UalException.class, () -> peer.translate(1, granted, Access.READ)).error())
                .isEqualTo(ErrorCode.EACCES);
        assertThat(peer.translate(1, granted.plus(4096), Access.READ).phys()).isEqualTo((pfn + 2) << 12);
        refused(cmd("revoke buf 1 --offset 4096 --len 4096"), "ENOENT");
        ok(cmd("revoke buf 1 --offset 8192 --len 4096"));
        ok(cmd("grant buf 1 rw"));
        assertThat(peer.translate(1, notGranted, Access.WRITE).phys()).isEqualTo(pfn << 12);
        ok(cmd("free buf"));
        refused(cmd("read buf 0 1"), "USAGE");
        // a free revokes nothing by itself (like the DMA API) but the memory is back
        try (UalDevice zero = peer.openPeer(0)) {
            assertThat(zero.info().memoryFree()).isEqualTo(1L << 20);
        }
    }

    @Test
    void malformedCommandsAreUsageErrorsAndTheShellGoesOn() {
        ok(cmd("alloc a 8K"));
        String[] bad = {
            "alloc a", "alloc", "alloc b lots", "alloc b -4096", "alloc bad/name 4K", "alloc c 4K extra",
            "write a 0 abc", "write a 0 xyz0", "write a 8190 aabbcc", "write a 0x 00", "read a 0 0",
            "read a 0 2000000", "read a 8192 1", "read a 0 1 --bogus 1",
            "grant a 1 x", "grant a 1 r --offset 100", "grant a 1 r --len 0", "grant a 1 r --offset 8192",
            "grant a 5 r", "grant a 1", "grant a 1 r --len", "grant a 1 r --len 4096 --len 4096",
            "revoke a 1 r",
            "fabric-read 9 0 0 1", "fabric-read 1 0 0 0", "fabric-read 1 0 0 1 --mode sideways",
            "fabric-read 1 0 0", "fabric-read 1 0 0x8000000000000000 1", "fabric-write 1 0 0 zz",
            "faults now", "info 1", "pod-status", "quit now", "free nope", "help me",
        };
        for (String b : bad) {
            refused(cmd(b), "USAGE");
        }
        // still working, and the block is untouched
        assertThat(ok(cmd("read a 0 4")).get("hex").asText()).isEqualTo("00000000");
        assertThat(ok(cmd("help")).get("commands")).isNotEmpty();
        // library errors carry libual's code and message
        JsonNode e = refused(cmd("fabric-read 1 0x7ffffffff 0 64"), "ERANGE");
        assertThat(e.get("operation").asText()).isEqualTo("map_pfns");
        assertThat(sh.execute("  quit  ")).isFalse();
        assertThat(shOut.toString().strip().lines().reduce((x, y) -> y).orElseThrow())
                .isEqualTo("{\"cmd\":\"quit\",\"ok\":true}");
    }

    @Test
    void commentsAndBlankLinesGetNoAnswer() {
        int before = shOut.toString().length();
        assertThat(sh.execute("")).isTrue();
        assertThat(sh.execute("   ")).isTrue();
        assertThat(sh.execute("# alloc a 4K")).isTrue();
        assertThat(shOut.toString().length()).isEqualTo(before);
    }
}
