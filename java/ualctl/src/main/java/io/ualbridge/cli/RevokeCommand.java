package io.ualbridge.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
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
        int init = s.accel("--initiator", initiator != null ? initiator : s.nextPeer());
        if (init == local) {
            throw usage("--initiator " + init + " is the local accelerator: its requests are local and need no grant");
        }
        long c = count == null ? pages - first : count;
        DeviceMemory mem = s.track(s.device().allocMemory(pages * MappingOptions.PAGE, 0));
        s.device().grant(local, init, mem.firstPfn(), pages, prot);
        long grantsBefore = s.device().info().grants();
        GrantEffect effect = new GrantEffect(s, init, mem);
        note("revoking PFN %s +%d from %d", Fmt.hex(mem.firstPfn() + first), c, init);
        s.device().revoke(local, init, mem.firstPfn() + first, c);
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
            n.put("revokedFirstPfn", Fmt.hex(mem.firstPfn() + first));
            n.put("revokedPages", c);
            n.put("grantsBefore", grantsBefore);
            n.put("grantsAfter", grantsAfter);
            n.set("effect", effect.json());
            emit(n);
            return ExitCodes.OK;
        }
        PrintWriter out = out();
        out.printf("Accelerator %d granted initiator %d %s access to PFN %s..%s (%s)%n", local, init,
                Fmt.prot(prot), Fmt.hex(mem.firstPfn()), Fmt.hex(mem.firstPfn() + pages - 1),
                Fmt.plural(pages, "page"));
        out.printf("Revoked PFN %s..%s (%s)%n", Fmt.hex(mem.firstPfn() + first), Fmt.hex(mem.firstPfn() + first + c - 1),
                Fmt.plural(c, "page"));
        out.printf("Grant entries of accelerator %d: %d before, %d after%s%n", local, grantsBefore, grantsAfter,
                grantsAfter > grantsBefore ? " (the revoke split the grant)" : "");
        effect.print(out, maxRows);
        return ExitCodes.OK;
    }
}
