package io.ualbridge.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ualbridge.Access;
import io.ualbridge.DeviceMemory;

import java.io.PrintWriter;

/** What an initiator can do with each page of a block: a read and a write translated before and after a change. */
final class GrantEffect {
    private final Session s;
    private final int initiator;
    private final DeviceMemory mem;
    private final Probe[][] before;
    private Probe[][] after;

    GrantEffect(Session s, int initiator, DeviceMemory mem) {
        this.s = s;
        this.initiator = initiator;
        this.mem = mem;
        this.before = probe();
    }

    void after() {
        after = probe();
    }

    private Probe[][] probe() {
        int n = (int) mem.pageCount();
        Probe[][] r = new Probe[n][2];
        for (int i = 0; i < n; i++) {
            r[i][0] = Probe.run(s, "", initiator, mem.physical(i * MappingOptions.PAGE), Access.READ);
            r[i][1] = Probe.run(s, "", initiator, mem.physical(i * MappingOptions.PAGE), Access.WRITE);
        }
        // Targets keep a copy of refused requests in their own ring too; drain it so later reads see only new ones.
        s.drain(s.local());
        return r;
    }

    static String cell(Probe p) {
        return p.ok() ? "ok" : p.fault() != null ? p.fault().reason().name() : p.error().error().name();
    }

    /** Number of (page, access) pairs whose outcome changed. */
    int changed() {
        int c = 0;
        for (int i = 0; i < before.length; i++) {
            for (int a = 0; a < 2; a++) {
                c += before[i][a].ok() != after[i][a].ok() ? 1 : 0;
            }
        }
        return c;
    }

    void print(PrintWriter out, int maxRows) {
        out.printf("%nRequests by initiator %d to accelerator %d's pages (physical mode):%n", initiator, s.local());
        Table t = new Table("PAGE", "PFN", "ADDRESS", "READ BEFORE", "WRITE BEFORE", "READ AFTER", "WRITE AFTER")
                .rightAlign(0);
        long[] pfns = mem.pfns();
        for (int i = 0; i < before.length; i++) {
            if (t.size() >= maxRows) {
                t.omit();
                continue;
            }
            t.row(i, Fmt.hex(pfns[i]), Fmt.faddr(before[i][0].address()), cell(before[i][0]), cell(before[i][1]),
                    cell(after[i][0]), cell(after[i][1]));
        }
        t.print(out, "  ");
    }

    ArrayNode json() {
        ArrayNode a = Json.array();
        long[] pfns = mem.pfns();
        for (int i = 0; i < before.length; i++) {
            ObjectNode p = a.addObject();
            p.put("page", i);
            p.put("pfn", Fmt.hex(pfns[i]));
            p.set("address", Json.faddr(before[i][0].address()));
            ObjectNode b = p.putObject("before");
            b.put("read", cell(before[i][0]));
            b.put("write", cell(before[i][1]));
            ObjectNode f = p.putObject("after");
            f.put("read", cell(after[i][0]));
            f.put("write", cell(after[i][1]));
        }
        return a;
    }
}
