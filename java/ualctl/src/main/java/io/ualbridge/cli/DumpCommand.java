package io.ualbridge.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ualbridge.DeviceInfo;
import io.ualbridge.Mapping;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.List;

/** ualctl dump: set up a virtual-mode range and print its page-table leaf entries and the pool usage. */
@Command(name = "dump", mixinStandardHelpOptions = true,
        description = "Set up a virtual-mode range like 'map --mode virtual', then print the leaf entries of the "
                + "initiator's page tables (iova, size, level, target, phys, prot) and the page-table pool usage.")
final class DumpCommand extends BaseCommand {
    @Mixin
    MappingOptions mapping;

    @Option(names = "--all", description = "Dump the initiator's whole domain, not just the range.")
    boolean all;

    @Option(names = "--max-rows", paramLabel = "N", defaultValue = "64",
            description = "Rows in the human output (default: ${DEFAULT-VALUE}).")
    int maxRows;

    @Override
    void validate() {
        mapping.validate(this);
    }

    @Override
    int run(Session s) {
        int initiator = s.accel("--initiator", mapping.initiator != null ? mapping.initiator : s.local());
        DeviceInfo before = s.on(initiator).info();
        MappingSetup m = MappingSetup.create(s, this, mapping, Mode.virtual, true, null);
        List<Mapping> leaves = all ? s.on(m.initiator).dump() : s.on(m.initiator).dump(m.range.iova(), m.range.size());
        DeviceInfo after = s.on(m.initiator).info();
        if (json()) {
            ObjectNode n = m.json(s.device().uri());
            n.set("leaves", Json.mappings(leaves));
            n.set("pool", pool(before, after));
            emit(n);
            return ExitCodes.OK;
        }
        PrintWriter out = out();
        m.printMemory(out);
        out.printf("IOVA range %s..%s (%s) in initiator %d's domain, prealloc %s; link used %s%n",
                Fmt.addr(m.range.iova()), Fmt.addr(m.range.iova() + m.range.size() - 1), Fmt.size(m.range.size()),
                m.initiator, Fmt.yesNo(m.prealloc), m.leafSummary());
        out.printf("%nPage-table leaf entries (%s):%n", all ? "whole domain" : "the range");
        MappingSetup.printLeaves(out, leaves, maxRows, "  ");
        out.printf("%nPage-table pool of accelerator %d:%n", m.initiator);
        Table t = new Table("", "BEFORE", "AFTER").rightAlign(1, 2);
        t.row("pool pages", before.ptPoolPages(), after.ptPoolPages());
        t.row("free pages", before.ptPoolFree(), after.ptPoolFree());
        t.row("in use or reserved", before.ptPoolPages() - before.ptPoolFree(), after.ptPoolPages() - after.ptPoolFree());
        t.row("IOVA ranges", before.iovaRanges(), after.iovaRanges());
        t.row("mapped 4 KiB pages", before.mappedPages(), after.mappedPages());
        t.print(out, "  ");
        out.printf("  allocations during the link: %d%n", m.allocationsDuringLink);
        return ExitCodes.OK;
    }

    private static ObjectNode pool(DeviceInfo before, DeviceInfo after) {
        ObjectNode p = Json.object();
        p.put("pages", after.ptPoolPages());
        p.put("freeBefore", before.ptPoolFree());
        p.put("freeAfter", after.ptPoolFree());
        p.put("used", after.ptPoolPages() - after.ptPoolFree());
        p.put("usedByRange", before.ptPoolFree() - after.ptPoolFree());
        p.put("mappedPages", after.mappedPages());
        p.put("iovaRanges", after.iovaRanges());
        return p;
    }
}
