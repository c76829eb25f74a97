package io.ualbridge.cli;

import io.ualbridge.DeviceMemory;
import io.ualbridge.Prot;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;

/** ualctl revoke: grant pages, then revoke (part of) them and show the effect. */
@Command(name = "revoke", mixinStandardHelpOptions = true,
        description = "Allocate pages on the local accelerator, grant them to an initiator, then revoke some or all "
                + "of them (a range inside the grant splits it) and show what the initiator's reads and writes do "
                + "before and after the revoke.")
final class RevokeCommand extends BaseCommand {
    @Option(names = "--initiator", paramLabel = "I",
            description = "Accelerator whose grant is taken back (default: the one after the local accelerator).")
    Integer initiator;

    @Option(names = "--pages", paramLabel = "N", defaultValue = "4",
            description = "Pages to allocate and grant first (default: ${DEFAULT-VALUE}).")
    long pages;

    @Option(names = "--prot", paramLabel = "r|w|rw", converter = Converters.ProtConverter.class, defaultValue = "rw",
            description = "What the initial grant allows (default: ${DEFAULT-VALUE}).")
    int prot = Prot.RW;

    @Option(names = "--first", paramLabel = "P", defaultValue = "0",
            description = "First page (index into the block) to revoke (default: ${DEFAULT-VALUE}).")
    long first;

    @Option(names = "--count", paramLabel = "M",
            description = "Pages to revoke (default: from --first to the end of the block).")
    Long count;

    @Option(names = "--max-rows", paramLabel = "N", defaultValue = "32",
            description = "Rows in the human output (default: ${DEFAULT-VALUE}).")
    int maxRows;

    @Override
    void validate() {
        if (pages <= 0) {
            throw usage("--pages must be at least 1 (was " + pages + ")");
        }
        if (first < 0 || first >= pages) {
            throw usage("--first " + first + ": outside the block of " + pages + " pages (0.." + (pages - 1) + ")");
        }
        long c = count == null ? pages - first : count;
        if (c <= 0 || first + c > pages) {
            throw usage("--count " + c + ": must be 1.." + (pages - first) + " (pages " + first + ".." + (pages - 1)
                    + " are granted)");
        }
    }

    @Override
    int run(Session s) {
        int local = s.local();
        int init = GrantChange.initiator(s, initiator);
        long c = count == null ? pages - first : count;
        DeviceMemory mem = s.track(s.device().allocMemory(pages * MappingOptions.PAGE, 0));
        s.device().grant(local, init, mem.firstPfn(), pages, prot);
        GrantChange change = new GrantChange(s, init, mem, prot);
        note("revoking PFN %s +%d from %d", Fmt.hex(mem.firstPfn() + first), c, init);
        s.device().revoke(local, init, mem.firstPfn() + first, c);
        change.after();
        if (json()) {
            emit(change.json(n -> {
                n.put("revokedFirstPfn", Fmt.hex(mem.firstPfn() + first));
                n.put("revokedPages", c);
            }));
            return ExitCodes.OK;
        }
        PrintWriter out = out();
        change.printGrantLine(out, "granted");
        out.printf("Revoked PFN %s..%s (%s)%n", Fmt.hex(mem.firstPfn() + first), Fmt.hex(mem.firstPfn() + first + c - 1),
                Fmt.plural(c, "page"));
        change.printCountersAndEffect(out, change.grantsAfter() > change.grantsBefore()
                ? " (the revoke split the grant)" : "", maxRows);
        return ExitCodes.OK;
    }
}
