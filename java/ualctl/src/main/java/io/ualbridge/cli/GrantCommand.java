package io.ualbridge.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
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
        int init = s.accel("--initiator", initiator != null ? initiator : s.nextPeer());
        if (init == local) {
            throw usage("--initiator " + init + " is the local accelerator: its requests are local and need no grant");
        }
        DeviceMemory mem = s.track(s.device().allocMemory(pages * MappingOptions.PAGE, 0));
        long grantsBefore = s.device().info().grants();
        GrantEffect effect = new GrantEffect(s, init, mem);
        note("granting PFN %s +%d to %d", Fmt.hex(mem.firstPfn()), pages, init);
        s.device().grant(local, init, mem.firstPfn(), pages, prot);
        effect.after();
        long grantsAfter = s.device().info().grants();
        if (json()) {
            ObjectNode n = Json.object();
            n.put("uri", s.device().uri());
            n.put("target", local);
            n.put("initiator", init);
            n.put("firstPfn", Fmt.hex(mem.firstPfn()));
            n.put("pages", pages);
            n.put("prot", Fmt.prot(prot));
            n.put("grantsBefore", grantsBefore);
            n.put("grantsAfter", grantsAfter);
            n.set("effect", effect.json());
            emit(n);
            return ExitCodes.OK;
        }
        PrintWriter out = out();
        out.printf("Accelerator %d grants initiator %d %s access to PFN %s..%s (%s)%n", local, init,
                Fmt.prot(prot), Fmt.hex(mem.firstPfn()), Fmt.hex(mem.firstPfn() + pages - 1),
                Fmt.plural(pages, "page"));
        out.printf("Grant entries of accelerator %d: %d before, %d after%n", local, grantsBefore, grantsAfter);
        effect.print(out, maxRows);
        return ExitCodes.OK;
    }
}
