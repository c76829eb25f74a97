package io.ualbridge.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ualbridge.DeviceMemory;
import io.ualbridge.FabricAddress;
import io.ualbridge.Fault;
import io.ualbridge.FaultBatch;
import io.ualbridge.IovaRange;
import io.ualbridge.Pod;
import io.ualbridge.Prot;
import io.ualbridge.UalDevice;
import io.ualbridge.UalException;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The command interpreter of {@code ualctl shell}: one device handle (one OS domain of a shared pod) that keeps its
 * state, named blocks of device memory, across commands read one per line. Every command answers exactly one JSON
 * line, flushed at once: {@code {"cmd":"<line>","ok":true,...}} or {@code {"cmd":"<line>","ok":false,"error":
 * "EACCES","code":-13,"message":"..."}} ({@code "error":"USAGE","code":0} for a malformed command). No error ends
 * the shell; EOF or {@code quit} does, and frees everything it created.
 *
 * <p>Fabric reads and writes go through fabric addresses as the local accelerator's DMA engine would, into or
 * out of a bounce block of local device memory (another domain's requests reach device memory only): physical
 * mode maps the target's PFNs ({@code ual_map_pfns}) and copies; virtual mode links the target's pages and the
 * bounce block into a fresh IOVA range, syncs, copies, then unlinks and frees the range. Copies move whole 64-byte
 * blocks (the fabric's request granule), so a write that does not cover whole blocks reads its edge blocks first.
 */
final class Shell implements AutoCloseable {
    static final long PAGE = 4096;
    static final long BLOCK = 64;
    /** Largest read or write of one command: keeps each answer line reasonable. */
    static final long MAX_BYTES = 1L << 20;
    /** Most fault records drained by one faults command. */
    static final int MAX_FAULTS = 16384;

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.-]{1,64}");
    private static final HexFormat HEX = HexFormat.of();
    private static final List<String> COMMANDS = List.of(
            "alloc NAME SIZE",
            "free NAME",
            "write NAME OFFSET HEX",
            "read NAME OFFSET LEN",
            "grant NAME INITIATOR r|w|rw [--offset BYTES] [--len BYTES]",
            "revoke NAME INITIATOR [--offset BYTES] [--len BYTES]",
            "fabric-read TARGET PFN OFFSET LEN [--mode physical|virtual]",
            "fabric-write TARGET PFN OFFSET HEX [--mode physical|virtual]",
            "faults",
            "info",
            "pod-status",
            "help",
            "quit");

    private final UalDevice dev;
    private final PrintWriter out;
    private final PrintWriter err;
    private final boolean verbose;
    private final int local;
    private final int count;
    private final Map<String, DeviceMemory> blocks = new LinkedHashMap<>();

    /** A malformed command: answered with "error":"USAGE". */
    static final class Usage extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Usage(String message) {
            super(message);
        }
    }

    /**
     * @param dev     the open handle; the shell closes it
     * @param out     answers (one JSON line per command)
     * @param err     notes with verbose, and close-time problems
     * @param verbose print stack traces of internal errors on err
     */
    Shell(UalDevice dev, PrintWriter out, PrintWriter err, boolean verbose) {
        this.dev = dev;
        this.out = out;
        this.err = err;
        this.verbose = verbose;
        var info = dev.info();
        this.local = info.acceleratorId();
        this.count = info.acceleratorCount();
    }

    /** Prints the ready line. */
    void ready() {
        ObjectNode n = Json.object();
        n.put("ready", true);
        n.put("accel", local);
        n.put("accels", count);
        n.put("uri", dev.uri());
        emit(n);
    }

    /** Reads and answers commands until EOF or quit. */
    void loop(BufferedReader in) throws IOException {
        String line;
        while ((line = in.readLine()) != null) {
            if (!execute(line)) {
                return;
            }
        }
    }

    /**
     * Runs one command line and prints its answer (nothing for a blank line or a comment).
     *
     * @return false after quit
     */
    boolean execute(String raw) {
        String line = raw.strip();
        if (line.isEmpty() || line.startsWith("#")) {
            return true;
        }
        ObjectNode n = Json.object();
        n.put("cmd", line);
        n.put("ok", true);
        boolean go = true;
        try {
            go = dispatch(new Args(line), n);
        } catch (Usage e) {
            failure(n, "USAGE", 0, e.getMessage());
        } catch (UalException e) {
            failure(n, e.error().name(), e.code(), e.getMessage());
            n.put("operation", e.operation());
        } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
            failure(n, "USAGE", 0, e.getMessage());
        } catch (RuntimeException e) {
            // A bug or an unexpected state: answer it like any error, keep the shell alive.
            failure(n, "INTERNAL", 0, e.toString());
            if (verbose) {
                e.printStackTrace(err);
                err.flush();
            }
        }
        emit(n);
        return go;
    }

    private static void failure(ObjectNode n, String error, int code, String message) {
        String cmd = n.path("cmd").asText();
        n.removeAll();
        n.put("cmd", cmd);
        n.put("ok", false);
        n.put("error", error);
        n.put("code", code);
        n.put("message", message == null ? error : message);
    }

    private boolean dispatch(Args a, ObjectNode n) {
        switch (a.command) {
            case "alloc" -> alloc(a, n);
            case "free" -> free(a, n);
            case "write" -> write(a, n);
            case "read" -> read(a, n);
            case "grant" -> grant(a, n, true);
            case "revoke" -> grant(a, n, false);
            case "fabric-read" -> fabric(a, n, false);
            case "fabric-write" -> fabric(a, n, true);
            case "faults" -> faults(a, n);
            case "info" -> {
                a.expect(0, Set.of(), "info");
                n.setAll(Json.info(dev.info()));
                n.put("uri", dev.uri());
            }
            case "pod-status" -> {
                a.expect(0, Set.of(), "pod-status");
                String path = Pod.pathOf(dev.uri()).orElseThrow(() -> new Usage(
                        "pod-status: " + dev.uri() + " is not a shared pod (fake:/PATH)"));
                n.setAll(Json.podStatus(Pod.status(path)));
            }
            case "help" -> {
                a.expect(0, Set.of(), "help");
                ArrayNode c = n.putArray("commands");
                COMMANDS.forEach(c::add);
            }
            case "quit", "exit" -> {
                a.expect(0, Set.of(), a.command);
                return false;
            }
            default -> throw new Usage("unknown command '" + a.command + "' (commands: alloc, free, write, read, "
                    + "grant, revoke, fabric-read, fabric-write, faults, info, pod-status, help, quit)");
        }
        return true;
    }

    // ---- local memory --------------------------------------------------------------------------------------------

    private void alloc(Args a, ObjectNode n) {
        a.expect(2, Set.of(), "alloc NAME SIZE");
        String name = a.pos(0);
        if (!NAME.matcher(name).matches()) {
            throw new Usage("alloc: bad name '" + name + "' (1..64 of A-Z a-z 0-9 _ . -)");
        }
        if (blocks.containsKey(name)) {
            throw new Usage("alloc: a block named '" + name + "' exists (free it first)");
        }
        long size = a.number(1, "SIZE");
        DeviceMemory m = dev.allocMemory(size, 0);
        blocks.put(name, m);
        n.put("name", name);
        n.put("accel", local);
        n.put("pfn", m.firstPfn());
        n.put("pages", m.pageCount());
        n.put("size", m.size());
    }

    private void free(Args a, ObjectNode n) {
        a.expect(1, Set.of(), "free NAME");
        String name = a.pos(0);
        DeviceMemory m = block(name);
        m.close();
        blocks.remove(name);
        n.put("name", name);
    }

    private void write(Args a, ObjectNode n) {
        a.expect(3, Set.of(), "write NAME OFFSET HEX");
        DeviceMemory m = block(a.pos(0));
        long off = a.number(1, "OFFSET");
        byte[] data = hex(a.pos(2));
        within(m, a.pos(0), off, data.length);
        m.write(off, data);
        n.put("name", a.pos(0));
        n.put("offset", off);
        n.put("bytes", data.length);
    }

    private void read(Args a, ObjectNode n) {
        a.expect(3, Set.of(), "read NAME OFFSET LEN");
        DeviceMemory m = block(a.pos(0));
        long off = a.number(1, "OFFSET");
        long len = length(a.number(2, "LEN"));
        within(m, a.pos(0), off, len);
        n.put("name", a.pos(0));
        n.put("offset", off);
        n.put("hex", HEX.formatHex(m.read(off, (int) len)));
    }

    // ---- grants --------------------------------------------------------------------------------------------------

    private void grant(Args a, ObjectNode n, boolean grant) {
        String usage = grant ? "grant NAME INITIATOR r|w|rw [--offset BYTES] [--len BYTES]"
                : "revoke NAME INITIATOR [--offset BYTES] [--len BYTES]";
        a.expect(grant ? 3 : 2, Set.of("offset", "len"), usage);
        String name = a.pos(0);
        DeviceMemory m = block(name);
        int initiator = accel(a.number(1, "INITIATOR"), "INITIATOR");
        int prot = grant ? prot(a.pos(2)) : 0;
        long off = a.option("offset", 0);
        long len = a.option("len", m.size() - Math.min(off, m.size()));
        if (off % PAGE != 0 || len % PAGE != 0 || len == 0) {
            throw new Usage(a.command + ": --offset " + off + " and --len " + len
                    + " must be multiples of 4096 and --len non-zero (grants cover whole pages)");
        }
        within(m, name, off, len);
        long pfn = m.firstPfn() + off / PAGE;
        long pages = len / PAGE;
        if (grant) {
            dev.grant(local, initiator, pfn, pages, prot);
        } else {
            dev.revoke(local, initiator, pfn, pages);
        }
        n.put("name", name);
        n.put("target", local);
        n.put("initiator", initiator);
        n.put("pfn", pfn);
        n.put("pages", pages);
        if (grant) {
            n.put("prot", Fmt.prot(prot));
        }
    }

    private static int prot(String s) {
        try {
            return Converters.parseProt(s);
        } catch (IllegalArgumentException e) {
            throw new Usage(e.getMessage());
        }
    }

    // ---- fabric requests -----------------------------------------------------------------------------------------

    private void fabric(Args a, ObjectNode n, boolean write) {
        String usage = write ? "fabric-write TARGET PFN OFFSET HEX [--mode physical|virtual]"
                : "fabric-read TARGET PFN OFFSET LEN [--mode physical|virtual]";
        a.expect(4, Set.of("mode"), usage);
        int target = accel(a.number(0, "TARGET"), "TARGET");
        long pfn = a.number(1, "PFN");
        long off = a.number(2, "OFFSET");
        byte[] data = write ? hex(a.pos(3)) : null;
        long len = write ? data.length : length(a.number(3, "LEN"));
        String modeName = a.options.getOrDefault("mode", "physical").toLowerCase(Locale.ROOT);
        boolean virtual = switch (modeName) {
            case "physical" -> false;
            case "virtual" -> true;
            default -> throw new Usage(a.command + ": --mode '" + modeName + "' is not physical or virtual");
        };
        if (pfn > Long.MAX_VALUE / 2 || off > Long.MAX_VALUE / 2) {
            throw new Usage(a.command + ": PFN " + pfn + " with OFFSET " + off + " overflows");
        }
        // The pages holding the bytes, and the 64-byte-aligned window of them the copy moves.
        long firstPage = off / PAGE;
        long pages = (off + len + PAGE - 1) / PAGE - firstPage;
        long start = off / BLOCK * BLOCK;
        long end = (off + len + BLOCK - 1) / BLOCK * BLOCK;
        long window = end - start;
        long[] pfns = new long[(int) pages];
        for (int i = 0; i < pfns.length; i++) {
            pfns[i] = pfn + firstPage + i;
        }
        boolean edges = write && (start != off || end != off + len);
        int prot = !write ? Prot.READ : edges ? Prot.RW : Prot.WRITE;
        long bouncePages = (window + PAGE - 1) / PAGE;
        try (DeviceMemory bounce = dev.allocMemory(bouncePages * PAGE, 0)) {
            FabricAddress remote;
            FabricAddress near;
            IovaRange range = null;
            try {
                if (virtual) {
                    range = dev.allocIova((pages + bouncePages) * PAGE, 0);
                    range.link(0, target, pfns, prot);
                    range.link(pages * PAGE, local, bounce.pfns(), Prot.RW);
                    range.sync();
                    remote = range.address(start - firstPage * PAGE);
                    near = range.address(pages * PAGE);
                } else {
                    remote = dev.mapPfns(target, pfns, prot)[0].plus(start - firstPage * PAGE);
                    near = bounce.physical(0);
                }
                if (write) {
                    if (start != off) {
                        dev.copy(local, near, remote, BLOCK);
                    }
                    if (end != off + len && (end - BLOCK != start || start == off)) {
                        dev.copy(local, near.plus(window - BLOCK), remote.plus(window - BLOCK), BLOCK);
                    }
                    bounce.write(off - start, data);
                    dev.copy(local, remote, near, window);
                    n.put("bytes", len);
                } else {
                    dev.copy(local, near, remote, window);
                    n.put("hex", HEX.formatHex(bounce.read(off - start, (int) len)));
                }
                if (range != null) {
                    range.unlink(0, range.size());
                }
            } finally {
                if (range != null) {
                    range.close();
                }
            }
            n.put("target", target);
            n.put("pfn", pfn);
            n.put("offset", off);
            n.put("len", len);
            n.put("mode", virtual ? "virtual" : "physical");
            n.put("address", Fmt.faddr(remote.plus(off - start)));
        }
    }

    // ---- faults --------------------------------------------------------------------------------------------------

    private void faults(Args a, ObjectNode n) {
        a.expect(0, Set.of(), "faults");
        List<Fault> all = new ArrayList<>();
        long lost = 0;
        while (all.size() < MAX_FAULTS) {
            FaultBatch b = dev.readFaults(Math.min(1024, MAX_FAULTS - all.size()));
            all.addAll(b.faults());
            lost += b.lost();
            if (b.faults().size() < 1024) {
                break;
            }
        }
        ArrayNode arr = n.putArray("faults");
        for (Fault f : all) {
            ObjectNode o = arr.addObject();
            o.put("seq", f.seq());
            o.put("reason", f.reason().name());
            o.put("initiator", f.initiator());
            if (f.target() < 0) {
                o.putNull("target");
            } else {
                o.put("target", f.target());
            }
            o.put("addr", Fmt.faddr(f.address()));
            o.put("access", Fmt.access(f.access()));
            ArrayNode flags = o.putArray("flags");
            if (f.fromTlb()) {
                flags.add("TLB");
            }
            if (f.atTarget()) {
                flags.add("AT_TARGET");
            }
            o.put("length", f.length());
        }
        n.put("lost", lost);
    }

    // ---- helpers -------------------------------------------------------------------------------------------------

    private DeviceMemory block(String name) {
        DeviceMemory m = blocks.get(name);
        if (m == null) {
            throw new Usage("no block named '" + name + "'" + (blocks.isEmpty() ? " (alloc one first)"
                    : " (blocks: " + String.join(", ", blocks.keySet()) + ")"));
        }
        return m;
    }

    private static void within(DeviceMemory m, String name, long off, long len) {
        if (off < 0 || len < 0 || off > m.size() || len > m.size() - off) {
            throw new Usage("bytes [" + off + ", " + (off + len) + ") are outside block '" + name + "' of "
                    + m.size() + " bytes");
        }
    }

    private int accel(long id, String what) {
        if (id >= count) {
            throw new Usage(what + " " + id + ": no such accelerator (the fabric has " + count + ": 0.." + (count - 1)
                    + ")");
        }
        return (int) id;
    }

    private static long length(long len) {
        if (len == 0 || len > MAX_BYTES) {
            throw new Usage("LEN " + len + ": must be 1.." + MAX_BYTES);
        }
        return len;
    }

    private static byte[] hex(String s) {
        String h = s.startsWith("0x") || s.startsWith("0X") ? s.substring(2) : s;
        if (h.isEmpty() || h.length() % 2 != 0 || h.length() / 2 > MAX_BYTES) {
            throw new Usage("HEX '" + abbreviate(s) + "': need an even number of hex digits, 2.." + 2 * MAX_BYTES);
        }
        try {
            return HEX.parseHex(h);
        } catch (IllegalArgumentException e) {
            throw new Usage("HEX '" + abbreviate(s) + "' is not hex digits");
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 37) + "...";
    }

    private void emit(ObjectNode n) {
        out.println(Json.line(n));
        out.flush();
    }

    /** Frees every block, then closes the handle. Problems go to err; closing continues past them. */
    @Override
    public void close() {
        for (Map.Entry<String, DeviceMemory> e : blocks.entrySet()) {
            try {
                e.getValue().close();
            } catch (RuntimeException ex) {
                err.println("ualctl: shell: freeing block '" + e.getKey() + "': " + ex.getMessage());
            }
        }
        blocks.clear();
        try {
            dev.close();
        } catch (RuntimeException ex) {
            err.println("ualctl: shell: closing " + dev.uri() + ": " + ex.getMessage());
        }
        err.flush();
    }

    /** A command line split into words: the command, positional arguments and --name[=value] options. */
    static final class Args {
        final String command;
        final List<String> positional = new ArrayList<>();
        final Map<String, String> options = new LinkedHashMap<>();
        private final List<String> optionOrder = new ArrayList<>();

        Args(String line) {
            String[] w = line.split("\\s+");
            command = w[0].toLowerCase(Locale.ROOT);
            for (int i = 1; i < w.length; i++) {
                if (w[i].startsWith("--") && w[i].length() > 2) {
                    String name = w[i].substring(2);
                    String value;
                    int eq = name.indexOf('=');
                    if (eq >= 0) {
                        value = name.substring(eq + 1);
                        name = name.substring(0, eq);
                    } else if (i + 1 < w.length) {
                        value = w[++i];
                    } else {
                        throw new Usage(command + ": option --" + name + " needs a value");
                    }
                    if (options.put(name, value) != null) {
                        throw new Usage(command + ": option --" + name + " given twice");
                    }
                    optionOrder.add(name);
                } else {
                    positional.add(w[i]);
                }
            }
        }

        /** Checks the number of positional arguments and the option names. */
        void expect(int n, Set<String> allowed, String usage) {
            for (String o : optionOrder) {
                if (!allowed.contains(o)) {
                    throw new Usage(command + ": unknown option --" + o + " (usage: " + usage + ")");
                }
            }
            if (positional.size() != n) {
                throw new Usage(command + ": expected " + n + " argument" + (n == 1 ? "" : "s") + ", got "
                        + positional.size() + " (usage: " + usage + ")");
            }
        }

        String pos(int i) {
            return positional.get(i);
        }

        long number(int i, String what) {
            return parse(positional.get(i), what);
        }

        long option(String name, long dflt) {
            String v = options.get(name);
            return v == null ? dflt : parse(v, "--" + name);
        }

        /** A non-negative number: decimal or 0x hex (sizes may end in K, M, G). */
        private long parse(String s, String what) {
            long v;
            try {
                v = Converters.parseSize(s);
            } catch (RuntimeException e) {
                v = -1;
            }
            if (v < 0) {
                throw new Usage(command + ": " + what + " '" + s + "' is not a number (decimal or 0x hex, "
                        + "at most 2^63-1)");
            }
            return v;
        }
    }
}
