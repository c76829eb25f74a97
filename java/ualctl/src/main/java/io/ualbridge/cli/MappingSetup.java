package io.ualbridge.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ualbridge.DeviceMemory;
import io.ualbridge.FabricAddress;
import io.ualbridge.IovaRange;
import io.ualbridge.Mapping;
import io.ualbridge.UalDevice;

import java.io.PrintWriter;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Sets up what map, translate and dump show: memory on the target, a grant to the initiator, and the initiator's
 * mappings of it in physical and/or virtual mode.
 */
final class MappingSetup {
    int target;
    int initiator;
    long pages;
    long size;
    long align;
    int prot;
    boolean granted;
    DeviceMemory memory;
    long[] pfns;
    /** Physical mode: one routed address per page (null if not mapped in physical mode). */
    FabricAddress[] physical;
    /** Virtual mode: the range (null if not mapped in virtual mode). */
    IovaRange range;
    boolean prealloc;
    boolean synced;
    long allocationsDuringLink = -1;
    List<Mapping> leaves = List.of();

    /** Hook run on the range before the link (used by translate --skip-sync to probe the TLB). */
    interface BeforeLink {
        void run(MappingSetup setup);
    }

    static MappingSetup create(Session s, BaseCommand cmd, MappingOptions o, Mode mode, boolean sync,
            BeforeLink beforeLink) {
        MappingSetup m = new MappingSetup();
        m.target = s.accel("--target", o.target != null ? o.target : s.nextPeer());
        m.initiator = s.accel("--initiator", o.initiator != null ? o.initiator : s.local());
        m.pages = o.pageCount(cmd);
        m.size = m.pages * MappingOptions.PAGE;
        m.prot = o.prot;
        m.prealloc = o.prealloc;
        if (o.align != null) {
            m.align = o.align;
        } else if (o.contig) {
            m.align = MappingOptions.PAGE;
            for (long ps : s.info().pageSizes()) {
                if (ps <= m.size && ps > m.align) {
                    m.align = ps;
                }
            }
        } else {
            m.align = MappingOptions.PAGE;
        }
        UalDevice owner = s.on(m.target);
        cmd.note("allocating %s on accelerator %d (align %s)", Fmt.size(m.size), m.target, Fmt.size(m.align));
        m.memory = s.track(owner.allocMemory(m.size, m.align));
        m.pfns = m.memory.pfns();
        if (!o.noGrant && m.initiator != m.target) {
            cmd.note("accelerator %d grants %d pages to initiator %d (%s)", m.target, m.pages, m.initiator,
                    Fmt.prot(m.prot));
            owner.grant(m.target, m.initiator, m.memory.firstPfn(), m.pages, m.prot);
            m.granted = true;
        }
        UalDevice init = s.on(m.initiator);
        if (mode.physicalMode()) {
            cmd.note("physical mode: resolving %d PFNs", m.pages);
            m.physical = init.mapPfns(m.target, m.pfns, m.prot);
        }
        if (mode.virtualMode()) {
            cmd.note("virtual mode: allocating an IOVA range of %s%s", Fmt.size(m.size),
                    m.prealloc ? " with PREALLOC" : "");
            m.range = s.track(init.allocIova(m.size, m.prealloc ? IovaRange.PREALLOC : 0));
            if (beforeLink != null) {
                beforeLink.run(m);
            }
            long before = init.allocCount();
            m.range.link(0, m.target, m.pfns, m.prot);
            m.allocationsDuringLink = init.allocCount() - before;
            if (sync) {
                m.range.sync();
                m.synced = true;
            }
            m.leaves = m.range.dump();
        }
        return m;
    }

    /** Leaf sizes used by the link: size -> count. */
    Map<Long, Integer> leafSizes() {
        Map<Long, Integer> sizes = new TreeMap<>();
        for (Mapping l : leaves) {
            sizes.merge(l.size(), 1, Integer::sum);
        }
        return sizes;
    }

    String leafSummary() {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<Long, Integer> e : leafSizes().entrySet()) {
            if (sb.length() > 0) {
                sb.append(" + ");
            }
            sb.append(e.getValue()).append(" x ").append(Fmt.size(e.getKey()));
        }
        return sb.length() == 0 ? "none" : sb.toString();
    }

    void printMemory(PrintWriter out) {
        out.printf("Memory     %s (%s) on accelerator %d: phys %s..%s, PFN %s..%s, aligned to %s%n",
                Fmt.size(size), Fmt.plural(pages, "page"), target, Fmt.addr(memory.physAddress()),
                Fmt.addr(memory.physAddress() + size - 1), Fmt.hex(pfns[0]), Fmt.hex(pfns[pfns.length - 1]),
                Fmt.size(align));
        if (granted) {
            out.printf("Grant      accelerator %d lets initiator %d %s PFN %s..%s%n", target, initiator,
                    protVerb(prot), Fmt.hex(pfns[0]), Fmt.hex(pfns[pfns.length - 1]));
        } else if (initiator == target) {
            out.printf("Grant      none needed: initiator %d is the target (local access)%n", initiator);
        } else {
            out.printf("Grant      none (--no-grant): accelerator %d will refuse initiator %d%n", target, initiator);
        }
    }

    static String protVerb(int prot) {
        return switch (prot) {
            case 1 -> "read";
            case 2 -> "write";
            default -> "read and write";
        };
    }

    void printPhysical(PrintWriter out, int maxRows) {
        out.printf("%nPhysical mode: initiator %d reaches the pages at routed fabric addresses "
                + "(routing bit | target id | physical address)%n", initiator);
        Table t = new Table("PAGE", "PFN", "ROUTE WORD", "ROUTING BIT", "TARGET", "ADDRESS").rightAlign(0);
        for (int i = 0; i < physical.length; i++) {
            if (t.size() >= maxRows) {
                t.omit();
                continue;
            }
            FabricAddress a = physical[i];
            t.row(i, Fmt.hex(pfns[i]), Fmt.route(a.routeWord()), a.routed() ? 1 : 0, a.target(), Fmt.addr(a.address()));
        }
        t.print(out, "  ");
    }

    void printVirtual(PrintWriter out, int maxRows) {
        out.printf("%nVirtual mode: IOVA range %s..%s (%s) in initiator %d's domain, prealloc %s, %s%n",
                Fmt.addr(range.iova()), Fmt.addr(range.iova() + range.size() - 1), Fmt.size(range.size()),
                initiator, Fmt.yesNo(prealloc), synced ? "synced" : "NOT synced");
        out.printf("  link used %s; allocations during the link: %d%n", leafSummary(), allocationsDuringLink);
        printLeaves(out, leaves, maxRows, "  ");
    }

    static void printLeaves(PrintWriter out, List<Mapping> leaves, int maxRows, String indent) {
        Table t = new Table("IOVA", "SIZE", "LEVEL", "TARGET", "PHYS", "PROT").rightAlign(1, 2, 3);
        for (Mapping l : leaves) {
            if (t.size() >= maxRows) {
                t.omit();
                continue;
            }
            t.row(Fmt.addr(l.iova()), Fmt.size(l.size()), l.level(), l.target(), Fmt.addr(l.phys()), Fmt.prot(l.prot()));
        }
        t.print(out, indent);
    }

    ObjectNode json(String uri) {
        ObjectNode n = Json.object();
        n.put("uri", uri);
        n.put("target", target);
        n.put("initiator", initiator);
        n.put("pages", pages);
        n.put("size", size);
        n.put("prot", Fmt.prot(prot));
        ObjectNode mem = n.putObject("memory");
        mem.put("phys", Fmt.addr(memory.physAddress()));
        mem.put("firstPfn", Fmt.hex(pfns[0]));
        mem.put("align", align);
        n.put("granted", granted);
        if (physical != null) {
            ArrayNode a = n.putArray("physical");
            for (int i = 0; i < physical.length; i++) {
                ObjectNode p = Json.faddr(physical[i]);
                p.put("page", i);
                p.put("pfn", Fmt.hex(pfns[i]));
                a.add(p);
            }
        }
        if (range != null) {
            ObjectNode v = n.putObject("virtual");
            v.put("iova", Fmt.addr(range.iova()));
            v.put("size", range.size());
            v.put("prealloc", prealloc);
            v.put("synced", synced);
            v.put("allocationsDuringLink", allocationsDuringLink);
            ObjectNode ls = v.putObject("leafSizes");
            leafSizes().forEach((k, c) -> ls.put(Long.toString(k), c));
            v.set("leaves", Json.mappings(leaves));
        }
        return n;
    }
}
