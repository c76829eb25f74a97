package io.ualbridge.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ualbridge.DeviceInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.List;

/** ualctl info: what the device reports (ual_query). */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Describe the fabric and an accelerator: id, count, modes, page sizes, address bits, memory, "
                + "page-table pool, TLB, backend.")
final class InfoCommand extends BaseCommand {
    @Option(names = "--accel", paramLabel = "A",
            description = "Describe accelerator A of the fabric (default: the local accelerator of --uri).")
    Integer accel;

    @Override
    int run(Session s) {
        int a = accel == null ? s.local() : s.accel("--accel", accel);
        DeviceInfo i = s.on(a).info();
        if (json()) {
            ObjectNode n = Json.info(i);
            n.put("uri", s.device().uri());
            emit(n);
            return ExitCodes.OK;
        }
        print(out(), s.device().uri(), i, "");
        return ExitCodes.OK;
    }

    static void print(PrintWriter out, String uri, DeviceInfo i, String indent) {
        List<String> modes = Fmt.modeNames(i.modes());
        Table t = new Table("FIELD", "VALUE").noHeader();
        if (uri != null) {
            t.row("URI", uri);
        }
        t.row("Backend", i.backend());
        t.row("ABI version", (i.abiVersion() >>> 16) + "." + (i.abiVersion() & 0xffff));
        t.row("Accelerator", i.acceleratorId() + " of " + i.acceleratorCount() + " (ids 0.."
                + (i.acceleratorCount() - 1) + ")");
        t.row("Modes", modes.isEmpty() ? "none" : String.join(", ", modes));
        t.row("Page sizes", Fmt.sizes(i.pageSizes()) + " (bitmap " + Fmt.hex(i.pageSizeBitmap()) + ")");
        t.row("Physical bits", i.physBits() + " (" + Fmt.size(1L << Math.min(i.physBits(), 62))
                + " per accelerator)");
        t.row("DMA bits", i.dmaBits() + " (IOVAs below " + Fmt.addr(1L << Math.min(i.dmaBits(), 62)) + ")");
        t.row("Page-table levels", i.pageTableLevels() + " (512 entries each)");
        t.row("Memory", Fmt.size(i.memorySize()) + ", " + Fmt.size(i.memoryFree()) + " free");
        t.row("Page-table pool", i.ptPoolPages() + " pages (" + Fmt.size(i.ptPoolPages() * 4096) + "), "
                + i.ptPoolFree() + " free");
        t.row("TLB", i.tlbEntries() + " entries, " + i.tlbHits() + " hits, " + i.tlbMisses() + " misses");
        t.row("IOVA ranges", i.iovaRanges());
        t.row("Mapped pages", i.mappedPages());
        t.row("Grants", i.grants());
        t.row("Fabric requests", i.requestMin() + ".." + i.requestMax() + " bytes");
        t.print(out, indent);
    }
}
