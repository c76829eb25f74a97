package io.ualbridge.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ualbridge.DeviceMemory;

import java.io.PrintWriter;

/**
 * The common part of the grant and revoke reports: which block of which target was granted to which initiator,
 * the grant-table size before and after the change, and the change's effect on the initiator's requests.
 */
final class GrantChange {
    private final Session s;
    private final int initiator;
    private final DeviceMemory mem;
    private final int prot;
    private final GrantEffect effect;
    private final long grantsBefore;
    private long grantsAfter;

    /** Records the state before the change: call after setting up the block (and any initial grant). */
    GrantChange(Session s, int initiator, DeviceMemory mem, int prot) {
        this.s = s;
        this.initiator = initiator;
        this.mem = mem;
        this.prot = prot;
        this.grantsBefore = s.device().info().grants();
        this.effect = new GrantEffect(s, initiator, mem);
    }

    /**
     * The --initiator of a grant or revoke: the given accelerator or the one after the local one; a usage error if
     * it is not in the fabric or is the local accelerator (local requests need no grant).
     */
    static int initiator(Session s, Integer option) {
        int init = s.accel("--initiator", option != null ? option : s.nextPeer());
        if (init == s.local()) {
            throw s.usage("--initiator " + init + " is the local accelerator: its requests are local and need no "
                    + "grant");
        }
        return init;
    }

    /** Records the state after the change. */
    void after() {
        effect.after();
        grantsAfter = s.device().info().grants();
    }

    long grantsBefore() {
        return grantsBefore;
    }

    long grantsAfter() {
        return grantsAfter;
    }

    /** The JSON report; {@code extra} adds the command's own fields before the counters and the effect. */
    ObjectNode json(java.util.function.Consumer<ObjectNode> extra) {
        ObjectNode n = Json.object();
        n.put("uri", s.device().uri());
        n.put("target", s.local());
        n.put("initiator", initiator);
        n.put("firstPfn", Fmt.hex(mem.firstPfn()));
        n.put("pages", mem.pageCount());
        n.put("prot", Fmt.prot(prot));
        extra.accept(n);
        n.put("grantsBefore", grantsBefore);
        n.put("grantsAfter", grantsAfter);
        n.set("effect", effect.json());
        return n;
    }

    /** The first line of the human report: "Accelerator 0 grants initiator 1 rw access to PFN ..". */
    void printGrantLine(PrintWriter out, String verb) {
        out.printf("Accelerator %d %s initiator %d %s access to PFN %s..%s (%s)%n", s.local(), verb, initiator,
                Fmt.prot(prot), Fmt.hex(mem.firstPfn()), Fmt.hex(mem.firstPfn() + mem.pageCount() - 1),
                Fmt.plural(mem.pageCount(), "page"));
    }

    /** The grant-table line (with a note) and the effect table. */
    void printCountersAndEffect(PrintWriter out, String note, int maxRows) {
        out.printf("Grant entries of accelerator %d: %d before, %d after%s%n", s.local(), grantsBefore, grantsAfter,
                note);
        effect.print(out, maxRows);
    }
}
