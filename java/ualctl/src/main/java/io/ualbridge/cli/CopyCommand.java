package io.ualbridge.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ualbridge.DeviceMemory;
import io.ualbridge.ErrorCode;
import io.ualbridge.FabricAddress;
import io.ualbridge.HostBuffer;
import io.ualbridge.IovaRange;
import io.ualbridge.Prot;
import io.ualbridge.UalDevice;
import io.ualbridge.UalException;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/** ualctl copy: copy bytes between accelerators through the fabric and verify them. */
@Command(name = "copy", mixinStandardHelpOptions = true,
        description = {"Copy bytes from memory of one accelerator to memory of another through the fabric, as the "
                + "initiator's DMA engine: fill the source with a pattern, grant what the initiator needs, map both "
                + "sides in the chosen mode, copy in chunks, verify every byte, report requests, bytes and throughput.",
            "On a fabric of one accelerator, or a device without a CPU window into its memory (a DMA-only PCI "
                + "device on vfio:), or with --via-host, the copy is a round trip instead: a host buffer filled "
                + "with the pattern is copied into the local accelerator's memory and back into a second host "
                + "buffer, which is verified.",
            "A progress bar is shown on stderr for copies of several chunks when stderr is a terminal "
                + "(not with --json; force with --progress, suppress with --no-progress)."})
final class CopyCommand extends BaseCommand {
    @Option(names = "--size", paramLabel = "BYTES", converter = Converters.Size.class, defaultValue = "1M",
            description = "Bytes to copy: a multiple of 64 (default: ${DEFAULT-VALUE}).")
    long size;

    @Option(names = "--from", paramLabel = "A",
            description = "Source accelerator (default: the one after the local accelerator).")
    Integer from;

    @Option(names = "--to", paramLabel = "B", description = "Destination accelerator (default: the local one).")
    Integer to;

    @Option(names = "--initiator", paramLabel = "I",
            description = "Accelerator whose DMA engine copies (default: the destination).")
    Integer initiator;

    @Option(names = "--mode", paramLabel = "MODE", defaultValue = "physical",
            description = "physical, virtual or both (copy once per mode; default: ${DEFAULT-VALUE}).")
    Mode mode;

    @Option(names = "--chunk", paramLabel = "BYTES", converter = Converters.Size.class, defaultValue = "1M",
            description = "Bytes per ual_copy call: a multiple of 64 (default: ${DEFAULT-VALUE}).")
    long chunk;

    @Option(names = "--progress", negatable = true,
            description = "Show (or with --no-progress never show) the progress bar (default: when stderr is a "
                    + "terminal).")
    Boolean progress;

    @Option(names = "--via-host", negatable = true,
            description = "Round trip host buffer -> local device memory -> host buffer (default: when the fabric "
                    + "has one accelerator or its memory has no CPU window).")
    Boolean viaHost;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "1", description = "Seed of the byte pattern.")
    int seed;

    @Override
    void validate() {
        if (size <= 0 || size % 64 != 0) {
            throw usage("--size " + size + ": must be a non-zero multiple of 64 bytes");
        }
        if (chunk <= 0 || chunk % 64 != 0) {
            throw usage("--chunk " + chunk + ": must be a non-zero multiple of 64 bytes");
        }
    }

    record Run(String mode, FabricAddress src, FabricAddress dst, long requests, long bytes, long nanos,
            long calls, long mismatch) {
    }

    @Override
    int run(Session s) throws Exception {
        if (viaHost != null ? viaHost : (s.count() == 1 || !cpuWindow(s.device()))) {
            return report(s, s.local(), s.local(), s.local(), roundTrips(s));
        }
        int a = s.accel("--from", from != null ? from : s.nextPeer());
        int b = s.accel("--to", to != null ? to : s.local());
        int i = s.accel("--initiator", initiator != null ? initiator : b);
        long alloc = (size + MappingOptions.PAGE - 1) / MappingOptions.PAGE * MappingOptions.PAGE;
        Pattern pattern = new Pattern(seed);
        UalDevice srcDev = s.on(a);
        UalDevice dstDev = s.on(b);
        UalDevice initDev = s.on(i);
        DeviceMemory src = s.track(srcDev.allocMemory(alloc, 0));
        note("filling %s on accelerator %d with the pattern", Fmt.size(size), a);
        pattern.fill(src, size);
        List<Run> runs = new ArrayList<>();
        if (i != a) {
            srcDev.grant(a, i, src.firstPfn(), src.pageCount(), Prot.READ);
        }
        for (Mode m : mode == Mode.both ? List.of(Mode.physical, Mode.virtual) : List.of(mode)) {
            DeviceMemory dst = s.track(dstDev.allocMemory(alloc, 0));
            if (i != b) {
                dstDev.grant(b, i, dst.firstPfn(), dst.pageCount(), Prot.WRITE);
            }
            FabricAddress sa;
            FabricAddress da;
            if (m == Mode.physical) {
                sa = initDev.mapPfns(a, src.pfns(), Prot.READ)[0];
                da = initDev.mapPfns(b, dst.pfns(), Prot.WRITE)[0];
            } else {
                IovaRange sr = s.track(initDev.allocIova(alloc, IovaRange.PREALLOC));
                sr.link(0, a, src.pfns(), Prot.READ);
                sr.sync();
                IovaRange dr = s.track(initDev.allocIova(alloc, IovaRange.PREALLOC));
                dr.link(0, b, dst.pfns(), Prot.WRITE);
                dr.sync();
                sa = sr.address(0);
                da = dr.address(0);
            }
            runs.add(copy(s, m.name(), i, sa, da, pattern, dst));
        }
        return report(s, a, b, i, runs);
    }

    private int report(Session s, int a, int b, int i, List<Run> runs) {
        boolean ok = runs.stream().allMatch(r -> r.mismatch < 0);
        if (json()) {
            ObjectNode n = Json.object();
            n.put("uri", s.device().uri());
            n.put("from", a);
            n.put("to", b);
            n.put("initiator", i);
            n.put("size", size);
            n.put("chunk", chunk);
            ArrayNode arr = n.putArray("copies");
            for (Run r : runs) {
                ObjectNode o = arr.addObject();
                o.put("mode", r.mode);
                o.set("src", Json.faddr(r.src));
                o.set("dst", Json.faddr(r.dst));
                o.put("bytes", r.bytes);
                o.put("requests", r.requests);
                o.put("calls", r.calls);
                o.put("nanos", r.nanos);
                o.put("mibPerSecond", r.nanos > 0 ? r.bytes / (1024.0 * 1024.0) / (r.nanos / 1e9) : 0);
                o.put("verified", r.mismatch < 0);
                if (r.mismatch >= 0) {
                    o.put("firstMismatch", r.mismatch);
                }
            }
            n.put("verified", ok);
            emit(n);
        } else {
            PrintWriter out = out();
            out.printf("Copy %s from accelerator %d to accelerator %d, initiator %d, chunks of %s%n", Fmt.size(size),
                    a, b, i, Fmt.size(chunk));
            Table t = new Table("MODE", "SOURCE", "DESTINATION", "BYTES", "REQUESTS", "CALLS", "TIME", "THROUGHPUT",
                    "VERIFIED").rightAlign(3, 4, 5, 6);
            for (Run r : runs) {
                t.row(r.mode, Fmt.faddr(r.src), Fmt.faddr(r.dst), r.bytes, r.requests, r.calls,
                        String.format("%.2f ms", r.nanos / 1e6), Fmt.mibPerSecond(r.bytes, r.nanos),
                        r.mismatch < 0 ? "PASS (every byte)" : "FAIL at byte " + Fmt.hex(r.mismatch));
            }
            t.print(out, "  ");
        }
        return ok ? ExitCodes.OK : ExitCodes.CHECK_FAILED;
    }

    /** Whether the CPU can read the device's memory (a DMA-only device answers ENOTSUP). */
    private static boolean cpuWindow(UalDevice d) {
        try (DeviceMemory probe = d.allocMemory(MappingOptions.PAGE, 0)) {
            probe.read(0, 64);
            return true;
        } catch (UalException e) {
            if (e.error() == ErrorCode.ENOTSUP) {
                return false;
            }
            throw e;
        }
    }

    /** Host buffer -> local device memory -> second host buffer, through the fabric, once per mode. */
    private List<Run> roundTrips(Session s) {
        UalDevice d = s.device();
        int local = s.local();
        long alloc = (size + MappingOptions.PAGE - 1) / MappingOptions.PAGE * MappingOptions.PAGE;
        Pattern pattern = new Pattern(seed);
        List<Run> runs = new ArrayList<>();
        for (Mode m : mode == Mode.both ? List.of(Mode.physical, Mode.virtual) : List.of(mode)) {
            HostBuffer in = s.track(d.allocateHostBuffer(alloc));
            HostBuffer out = s.track(d.allocateHostBuffer(alloc));
            DeviceMemory mem = s.track(d.allocMemory(alloc, 0));
            pattern.fill(in.segment(), size);
            FabricAddress hin;
            FabricAddress dev;
            FabricAddress hout;
            if (m == Mode.physical) {
                hin = in.physical(0);
                dev = mem.physical(0);
                hout = out.physical(0);
            } else {
                // Tracked after the buffers, so it is unlinked and freed before they are unregistered.
                IovaRange r = s.track(d.allocIova(3 * alloc, 0));
                r.link(0, local, in.pfns(), Prot.READ);
                r.link(alloc, local, mem.pfns(), Prot.RW);
                r.link(2 * alloc, local, out.pfns(), Prot.WRITE);
                r.sync();
                hin = r.address(0);
                dev = r.address(alloc);
                hout = r.address(2 * alloc);
            }
            long start = System.nanoTime();
            long requests = chunked(s, local, dev, hin, null) + chunked(s, local, hout, dev, null);
            long nanos = System.nanoTime() - start;
            note("verifying %s in the second host buffer", Fmt.size(size));
            runs.add(new Run(m.name() + " (host round trip)", hin, hout, requests, 2 * size, nanos,
                    2 * ((size + chunk - 1) / chunk), pattern.firstMismatch(out.segment(), size)));
        }
        return runs;
    }

    /** Copies size bytes in --chunk calls, stepping the progress bar if there is one; returns the fabric
     *  requests made. */
    private long chunked(Session s, int i, FabricAddress da, FabricAddress sa, ProgressBar pb) {
        long requests = 0;
        for (long off = 0; off < size; off += chunk) {
            long n = Math.min(chunk, size - off);
            s.device().copy(i, da.plus(off), sa.plus(off), n);
            requests += Pattern.requests(sa.address() + off, da.address() + off, n);
            if (pb != null) {
                pb.stepBy(n);
            }
        }
        return requests;
    }

    private Run copy(Session s, String mode, int i, FabricAddress sa, FabricAddress da, Pattern pattern,
            DeviceMemory dst) {
        long calls = (size + chunk - 1) / chunk;
        boolean bar = showProgress(calls);
        long requests;
        long start = System.nanoTime();
        try (ProgressBar pb = bar ? new ProgressBarBuilder().setTaskName("copy " + mode).setInitialMax(size)
                .setUnit("MiB", 1 << 20).setStyle(ProgressBarStyle.ASCII).showSpeed()
                .setConsumer(new ConsoleProgressBarConsumer(System.err)).build() : null) {
            requests = chunked(s, i, da, sa, pb);
        }
        long nanos = System.nanoTime() - start;
        note("verifying %s at accelerator %d", Fmt.size(size), dst.physical(0).target());
        long mismatch = pattern.firstMismatch(dst, size);
        return new Run(mode, sa, da, requests, size, nanos, calls, mismatch);
    }

    private boolean showProgress(long calls) {
        if (json() || calls < 2) {
            return false;
        }
        if (progress != null) {
            return progress;
        }
        var console = System.console();
        return console != null && console.isTerminal();
    }
}
