package io.ualbridge.cli;

import io.ualbridge.DeviceMemory;
import io.ualbridge.Prot;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;

/** ualctl grant: grant pages of the local accelerator to an initiator and show the effect. */
@Command(name = "grant", mixinStandardHelpOptions = true,
        description = "Allocate pages on the local accelerator, grant them to an initiator, and show what the "
                + "initiator's reads and writes to them do before and after the grant.")
final class GrantCommand extends BaseCommand {
    @Option(names = "--initiator", paramLabel = "I",
            description = "Accelerator to let in (default: the one after the local accelerator).")
    Integer initiator;

    @Option(names = "--pages", paramLabel = "N", defaultValue = "4", description = "Pages to allocate and grant "
            + "(default: ${DEFAULT-VALUE}).")
    long pages;

    @Option(names = "--prot", paramLabel = "r|w|rw", converter = Converters.ProtConverter.class, defaultValue = "rw",
            description = "What the grant allows (default: ${DEFAULT-VALUE}).")
    int prot = Prot.RW;

    @Option(names = "--max-rows", paramLabel = "N", defaultValue = "32",
            description = "Rows in the human output (default: ${DEFAULT-VALUE}).")
    int maxRows;

    @Override
    void validate() {
        if (pages <= 0) {
            throw usage("--pages must be at least 1 (was " + pages + ")");
        }
    }

    @Override
    int run(Session s) {
        int local = s.local();
        int init = GrantChange.initiator(s, initiator);
        DeviceMemory mem = s.track(s.device().allocMemory(pages * MappingOptions.PAGE, 0));
        GrantChange change = new GrantChange(s, init, mem, prot);
        note("granting PFN %s +%d to %d", Fmt.hex(mem.firstPfn()), pages, init);
        s.device().grant(local, init, mem.firstPfn(), pages, prot);
        change.after();
        if (json()) {
            emit(change.json(n -> { }));
            return ExitCodes.OK;
        }
        PrintWriter out = out();
        change.printGrantLine(out, "grants");
        change.printCountersAndEffect(out, "", maxRows);
        return ExitCodes.OK;
    }
}
