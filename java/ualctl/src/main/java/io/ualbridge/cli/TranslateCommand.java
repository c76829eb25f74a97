package io.ualbridge.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ualbridge.FabricAddress;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;

/** ualctl translate: set up a mapping like map, then translate addresses the way the fabric would. */
@Command(name = "translate", mixinStandardHelpOptions = true,
        description = {"Set up a mapping like 'map', then translate addresses in it as the fabric would: the "
                + "target, physical address, page size, protection and TLB hit/miss, or the fault that refused it.",
            "Exits 3 if a translation (other than a --skip-sync probe) was refused."})
final class TranslateCommand extends BaseCommand {
    @Mixin
    MappingOptions mapping;

    @Option(names = "--mode", paramLabel = "MODE", defaultValue = "both",
            description = "physical, virtual or both (default: ${DEFAULT-VALUE}).")
    Mode mode;

    @Option(names = "--offset", paramLabel = "BYTES", converter = Converters.Size.class, split = ",",
            description = "Byte offset(s) into the memory to translate (repeat or comma-separate; default: 0).")
    List<Long> offsets = new ArrayList<>();

    @Option(names = "--access", paramLabel = "read|write", defaultValue = "read",
            description = "Access of the requests (default: ${DEFAULT-VALUE}).")
    AccessKind access;

    @Option(names = "--by", paramLabel = "R",
            description = "Issue the requests as accelerator R instead of the initiator (virtual mode: R's own "
                    + "domain is walked).")
    Integer by;

    @Option(names = "--repeat", paramLabel = "N", defaultValue = "1",
            description = "Translate each address N times (the second shows a TLB hit; default: ${DEFAULT-VALUE}).")
    int repeat;

    @Option(names = "--skip-sync",
            description = "Virtual mode: translate the IOVAs once before the link (the TLB caches 'not present') "
                    + "and don't sync after it: the missing sync shows as a fault decided from the TLB.")
    boolean skipSync;

    @Override
    void validate() {
        mapping.validate(this);
        if (repeat < 1) {
            throw usage("--repeat must be at least 1 (was " + repeat + ")");
        }
        long size = mapping.pageCount(this) * MappingOptions.PAGE;
        for (long off : offsets) {
            if (off >= size) {
                throw usage("--offset " + Fmt.hex(off) + ": past the end of the memory (" + Fmt.size(size) + ")");
            }
        }
        if (skipSync && mode == Mode.physical) {
            throw usage("--skip-sync needs virtual mode (--mode virtual or both)");
        }
    }

    @Override
    int run(Session s) {
        List<Long> offs = offsets.isEmpty() ? List.of(0L) : offsets;
        int acc = access.code();
        List<Probe> probes = new ArrayList<>();
        final int[] requester = new int[1];
        MappingSetup m = MappingSetup.create(s, this, mapping, mode, !skipSync, skipSync ? setup -> {
            for (long off : offs) {
                probes.add(Probe.run(s, "before link", requester(s, setup), setup.range.address(off), acc));
            }
        } : null);
        requester[0] = requester(s, m);
        int refused = 0;
        for (long off : offs) {
            for (int r = 0; r < repeat; r++) {
                String label = "#" + (r + 1);
                if (m.physical != null) {
                    FabricAddress a = m.physical[(int) (off / MappingOptions.PAGE)].plus(off % MappingOptions.PAGE);
                    Probe p = Probe.run(s, label, requester[0], a, acc);
                    probes.add(p);
                    refused += p.ok() ? 0 : 1;
                }
                if (m.range != null) {
                    Probe p = Probe.run(s, skipSync ? label + " unsynced" : label, requester[0],
                            m.range.address(off), acc);
                    probes.add(p);
                    refused += p.ok() ? 0 : 1;
                }
            }
        }
        if (json()) {
            ObjectNode n = m.json(s.device().uri());
            n.put("requester", requester[0]);
            n.put("access", access.name());
            ArrayNode a = n.putArray("translations");
            probes.forEach(p -> a.add(p.json()));
            n.put("refused", refused);
            emit(n);
        } else {
            var out = out();
            m.printMemory(out);
            if (m.range != null) {
                out.printf("IOVA range %s (%s) in initiator %d's domain, %s, %s%n", Fmt.addr(m.range.iova()),
                        Fmt.size(m.range.size()), m.initiator, m.leafSummary(), m.synced ? "synced" : "NOT synced");
            }
            out.printf("%nTranslations by accelerator %d (%s):%n", requester[0], access.name());
            Table t = Probe.table();
            probes.forEach(p -> p.addTo(t));
            t.print(out, "  ");
            boolean header = false;
            for (Probe p : probes) {
                if (!p.ok()) {
                    if (!header) {
                        out.println();
                        header = true;
                    }
                    out.printf("  %s %s: %s%n", p.label(), Fmt.faddr(p.address()), p.explain());
                }
            }
        }
        return refused == 0 ? ExitCodes.OK : ExitCodes.REFUSED;
    }

    private int requester(Session s, MappingSetup m) {
        return by != null ? s.accel("--by", by) : m.initiator;
    }
}
