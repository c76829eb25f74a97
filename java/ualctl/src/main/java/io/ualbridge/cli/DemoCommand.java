package io.ualbridge.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ualbridge.Access;
import io.ualbridge.DeviceInfo;
import io.ualbridge.DeviceMemory;
import io.ualbridge.ErrorCode;
import io.ualbridge.FabricAddress;
import io.ualbridge.Fault;
import io.ualbridge.FaultBatch;
import io.ualbridge.FaultReason;
import io.ualbridge.IovaRange;
import io.ualbridge.Mapping;
import io.ualbridge.Prot;
import io.ualbridge.UalDevice;
import io.ualbridge.UalException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;

/** ualctl demo: an end-to-end scenario on one fabric, as a report with numbered steps and PASS/FAIL checks. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Run an end-to-end scenario and print it as a report with numbered steps and PASS/FAIL "
                + "checks: accelerator A's memory is filled with a pattern and granted to B; B maps it in physical "
                + "mode and in virtual mode (PREALLOC range, 2 MiB leaf, sync) and copies it, verified; an ungranted "
                + "C is refused (fault NO_GRANT); a missing sync is made visible (fault decided from the TLB); "
                + "after a revoke B is refused too; a summary counts pages, bytes, faults and TLB hits/misses.",
            "Exits 0 only if every check passed (4 otherwise)."})
final class DemoCommand extends BaseCommand {
    @Option(names = "--owner", paramLabel = "A",
            description = "Accelerator A that owns the memory (default: the one after the local accelerator).")
    Integer owner;

    @Option(names = "--initiator", paramLabel = "B",
            description = "Accelerator B that maps and copies it (default: the local accelerator).")
    Integer initiator;

    @Option(names = "--intruder", paramLabel = "C",
            description = "Accelerator C that holds no grant (default: the second after the local accelerator).")
    Integer intruder;

    @Option(names = "--size", paramLabel = "BYTES", converter = Converters.Size.class, defaultValue = "2M",
            description = "Bytes of A's memory to share: a multiple of 4 KiB; 2 MiB or more shows a 2 MiB leaf "
                    + "(default: ${DEFAULT-VALUE}).")
    long size;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "7", description = "Seed of the byte pattern.")
    int seed;

    private static final long TWO_MIB = 2L << 20;

    /** Counters for the summary. */
    private long pagesMapped;
    private long bytesCopied;
    private long requests;
    private long faultsRecorded;
    private long faultsLost;
    private long preallocLinkAllocations = -1;

    @Override
    void validate() {
        if (size <= 0 || size % MappingOptions.PAGE != 0) {
            throw usage("--size " + size + ": must be a non-zero multiple of 4096 (4 KiB)");
        }
    }

    @Override
    int run(Session s) {
        if (s.count() < 3) {
            throw usage("the demo needs a fabric of at least 3 accelerators; " + s.device().uri() + " has "
                    + s.count() + " (try --uri 'fake:?accels=4')");
        }
        int a = s.accel("--owner", owner != null ? owner : (s.local() + 1) % s.count());
        int b = s.accel("--initiator", initiator != null ? initiator : s.local());
        int c = s.accel("--intruder", intruder != null ? intruder : (s.local() + 2) % s.count());
        if (a == b || a == c || b == c) {
            throw usage(String.format("--owner %d, --initiator %d and --intruder %d must be three different "
                    + "accelerators", a, b, c));
        }
        Report r = new Report(out(), !json());
        r.title("ualbridge demo on " + s.device().uri());
        ObjectNode root = r.root();
        root.put("uri", s.device().uri());
        ObjectNode roles = root.putObject("roles");
        roles.put("owner", a);
        roles.put("initiator", b);
        roles.put("intruder", c);
        root.put("size", size);
        boolean completed = false;
        try {
            scenario(s, r, a, b, c);
            completed = true;
        } catch (RuntimeException e) {
            String msg = e instanceof UalException ? e.getMessage() : e.toString();
            r.check("step ran to completion", false, "unexpected error: " + msg);
            if (verbose()) {
                e.printStackTrace(err());
            }
        }
        summary(s, r, b, completed);
        if (json()) {
            // Overview fields first, then the steps.
            ObjectNode doc = Json.object();
            root.properties().forEach(e -> {
                if (!e.getKey().equals("steps")) {
                    doc.set(e.getKey(), e.getValue());
                }
            });
            doc.set("steps", root.get("steps"));
            emit(doc);
        }
        out().flush();
        return r.failed() == 0 ? ExitCodes.OK : ExitCodes.CHECK_FAILED;
    }

    private void scenario(Session s, Report r, int a, int b, int c) {
        long pages = size / MappingOptions.PAGE;
        Pattern pattern = new Pattern(seed);

        // 1. Fabric info.
        r.step("Fabric info");
        DeviceInfo info = s.info();
        r.data().set("info", Json.info(info));
        r.line("backend %s, ABI %d.%d, %d accelerators (ids 0..%d), local accelerator %d", info.backend(),
                info.abiVersion() >>> 16, info.abiVersion() & 0xffff, info.acceleratorCount(),
                info.acceleratorCount() - 1, info.acceleratorId());
        r.line("modes: %s%s; page sizes: %s; %d-bit physical space per accelerator", info.supportsPhysical()
                ? "physical" : "", info.supportsVirtual() ? (info.supportsPhysical() ? ", virtual" : "virtual") : "",
                Fmt.sizes(info.pageSizes()), info.physBits());
        r.line("virtual mode: IOVAs below 2^%d, %d page-table levels, pool of %d table pages, TLB of %d entries",
                info.dmaBits(), info.pageTableLevels(), info.ptPoolPages(), info.tlbEntries());
        r.line("fabric requests of %d..%d bytes; memory %s per accelerator", info.requestMin(), info.requestMax(),
                Fmt.size(info.memorySize()));
        r.line("roles: A = accelerator %d (owns the memory), B = %d (initiator), C = %d (holds no grant)", a, b, c);
        r.check("fabric supports physical and virtual mode", info.supportsPhysical() && info.supportsVirtual(),
                "modes bitmap " + Fmt.hex(info.modes()));

        // 2. Memory on A, filled with a pattern.
        r.step("Accelerator A (" + a + ") allocates " + Fmt.size(size) + " and fills it with a pattern");
        UalDevice devA = s.on(a);
        UalDevice devB = s.on(b);
        UalDevice devC = s.on(c);
        boolean twoMiB = info.pageSizes().contains(TWO_MIB) && size >= TWO_MIB;
        long align = twoMiB ? TWO_MIB : MappingOptions.PAGE;
        DeviceMemory memA = s.track(devA.allocMemory(size, align));
        long[] pfns = memA.pfns();
        r.line("%s (%s) at phys %s, PFN %s..%s, aligned to %s", Fmt.size(size), Fmt.plural(pages, "page"),
                Fmt.addr(memA.physAddress()), Fmt.hex(pfns[0]), Fmt.hex(pfns[pfns.length - 1]), Fmt.size(align));
        pattern.fill(memA, size);
        long mm = pattern.firstMismatch(memA, size);
        r.data().put("phys", Fmt.addr(memA.physAddress()));
        r.data().put("firstPfn", Fmt.hex(pfns[0]));
        r.data().put("pages", pages);
        r.check("pattern reads back from A's memory", mm < 0, mm < 0 ? Fmt.size(size) + " written and read back"
                : "first difference at byte " + Fmt.hex(mm));

        // 3. A grants B.
        r.step("A grants B (" + b + ") read access to the memory");
        long grantsBefore = devA.info().grants();
        devA.grant(a, b, memA.firstPfn(), pages, Prot.READ);
        long grantsAfter = devA.info().grants();
        r.line("grant: target %d, initiator %d, PFN %s..%s, %s", a, b, Fmt.hex(pfns[0]), Fmt.hex(pfns[pfns.length - 1]),
                Fmt.prot(Prot.READ));
        r.data().put("grantsBefore", grantsBefore);
        r.data().put("grantsAfter", grantsAfter);
        r.check("A's grant table gained an entry", grantsAfter == grantsBefore + 1,
                grantsBefore + " -> " + grantsAfter + " entries");

        // 4. Physical mode.
        r.step("B maps A's memory in physical mode and copies it into its own memory");
        FabricAddress[] phys = devB.mapPfns(a, pfns, Prot.READ);
        pagesMapped += pages;
        Table pt = new Table("PAGE", "PFN", "ROUTE WORD", "ROUTING BIT", "TARGET", "ADDRESS").rightAlign(0);
        ArrayNode pj = r.data().putArray("addresses");
        boolean routedOk = true;
        for (int i = 0; i < phys.length; i++) {
            FabricAddress fa = phys[i];
            routedOk &= fa.routed() && fa.target() == a && fa.address() == pfns[i] << 12
                    && fa.routeWord() == (0x80000000 | a);
            if (i < 3 || i == phys.length - 1) {
                pt.row(i, Fmt.hex(pfns[i]), Fmt.route(fa.routeWord()), fa.routed() ? 1 : 0, fa.target(),
                        Fmt.addr(fa.address()));
                ObjectNode o = Json.faddr(fa);
                o.put("page", i);
                pj.add(o);
            } else if (i == 3) {
                pt.row("...", "", "", "", "", "");
            }
        }
        r.line("fabric address = routing bit | target id | physical address:");
        r.table(pt);
        r.check("every address carries the routing bit, target A and PFN << 12", routedOk, phys.length + " addresses");
        DeviceMemory dstP = s.track(devB.allocMemory(size, 0));
        long n = copy(devB, b, dstP.physical(0), phys[0], size);
        long bad = pattern.firstMismatch(dstP, size);
        r.line("copied %s from %s to %s: %d requests", Fmt.size(size), Fmt.faddr(phys[0]),
                Fmt.faddr(dstP.physical(0)), n);
        r.data().put("requests", n);
        r.check("physical-mode copy verified", bad < 0, bad < 0 ? "every byte of " + Fmt.size(size) + " matches"
                : "first difference at byte " + Fmt.hex(bad));

        // 5. Virtual mode.
        r.step("B maps A's memory in virtual mode (IOVA alloc with PREALLOC, link, sync) and copies it");
        long poolBefore = devB.info().ptPoolFree();
        IovaRange range = s.track(devB.allocIova(size, IovaRange.PREALLOC));
        long poolAfter = devB.info().ptPoolFree();
        r.line("IOVA range %s..%s (%s) in B's domain; PREALLOC reserved %d page-table pages", Fmt.addr(range.iova()),
                Fmt.addr(range.iova() + range.size() - 1), Fmt.size(range.size()), poolBefore - poolAfter);
        long allocBefore = devB.allocCount();
        range.link(0, a, pfns, Prot.READ);
        preallocLinkAllocations = devB.allocCount() - allocBefore;
        range.sync();
        pagesMapped += pages;
        List<Mapping> leaves = range.dump();
        r.line("linked %s of accelerator %d and synced; page-table leaves:", Fmt.plural(pages, "page"), a);
        Table lt = new Table("IOVA", "SIZE", "LEVEL", "TARGET", "PHYS", "PROT").rightAlign(1, 2, 3);
        for (int i = 0; i < leaves.size(); i++) {
            Mapping l = leaves.get(i);
            if (i < 4 || i == leaves.size() - 1) {
                lt.row(Fmt.addr(l.iova()), Fmt.size(l.size()), l.level(), l.target(), Fmt.addr(l.phys()),
                        Fmt.prot(l.prot()));
            } else if (i == 4) {
                lt.row("...", "", "", "", "", "");
            }
        }
        r.table(lt);
        ObjectNode vj = r.data();
        vj.put("iova", Fmt.addr(range.iova()));
        vj.put("reservedTablePages", poolBefore - poolAfter);
        vj.put("allocationsDuringLink", preallocLinkAllocations);
        vj.set("leaves", Json.mappings(leaves));
        r.check("link on the PREALLOC range allocated nothing", preallocLinkAllocations == 0,
                preallocLinkAllocations + " allocations");
        if (twoMiB) {
            boolean big = leaves.stream().anyMatch(l -> l.size() == TWO_MIB && l.level() == 2);
            r.check("link used a 2 MiB leaf (level 2)", big, Fmt.plural(leaves.size(), "leaf entry").replace("entrys",
                    "entries"));
        } else {
            r.line("(the memory is smaller than 2 MiB or the fabric lacks 2 MiB pages: no 2 MiB leaf possible)");
        }
        DeviceMemory dstV = s.track(devB.allocMemory(size, 0));
        n = copy(devB, b, dstV.physical(0), range.address(0), size);
        bad = pattern.firstMismatch(dstV, size);
        r.line("copied %s from %s to %s: %d requests", Fmt.size(size), Fmt.faddr(range.address(0)),
                Fmt.faddr(dstV.physical(0)), n);
        DeviceInfo ib = devB.info();
        r.line("B's TLB so far: %d hits, %d misses", ib.tlbHits(), ib.tlbMisses());
        r.check("virtual-mode copy verified", bad < 0, bad < 0 ? "every byte of " + Fmt.size(size) + " matches"
                : "first difference at byte " + Fmt.hex(bad));

        // 6. Ungranted C.
        r.step("Accelerator C (" + c + "), which holds no grant, tries to read A's memory");
        DeviceMemory dstC = s.track(devC.allocMemory(MappingOptions.PAGE, 0));
        UalException refused = expectRefused(() -> devC.copy(c, dstC.physical(0), phys[0], MappingOptions.PAGE));
        r.line("C copies 4 KiB from %s: %s", Fmt.faddr(phys[0]), outcome(refused));
        r.check("C's request refused by A's access control", refused != null
                && refused.error() == ErrorCode.EACCES, refused == null ? "no error" : refused.error().name());
        List<Fault> fc = drain(s, c);
        List<Fault> fa = drain(s, a);
        r.line("fault ring of C:");
        r.table(FaultsCommand.faultTable(fc));
        r.data().set("faultsOfC", faultsJson(fc));
        r.data().set("faultsOfA", faultsJson(fa));
        boolean noGrant = fc.stream().anyMatch(f -> f.reason() == FaultReason.NO_GRANT && f.initiator() == c
                && f.target() == a);
        r.check("C's ring records the refusal: reason NO_GRANT, initiator C, target A", noGrant,
                Fmt.plural(fc.size(), "record"));
        boolean atTarget = fa.stream().anyMatch(f -> f.reason() == FaultReason.NO_GRANT && f.atTarget());
        r.check("A's ring keeps its own copy (flag AT_TARGET)", atTarget, Fmt.plural(fa.size(), "record"));

        // 7. Missing sync.
        r.step("A missing sync made visible: B's TLB caches \"not present\" until the range is synced");
        IovaRange r2 = s.track(devB.allocIova(MappingOptions.PAGE, IovaRange.PREALLOC));
        FabricAddress iova = r2.address(0);
        r.line("new IOVA range %s (4 KiB) in B's domain", Fmt.addr(r2.iova()));
        Probe p1 = Probe.run(s, "1 before link", b, iova, Access.READ);
        r2.link(0, a, new long[] {pfns[0]}, Prot.READ);
        pagesMapped += 1;
        Probe p2 = Probe.run(s, "2 linked, no sync", b, iova, Access.READ);
        r2.sync(0, MappingOptions.PAGE);
        Probe p3 = Probe.run(s, "3 after sync", b, iova, Access.READ);
        Probe p4 = Probe.run(s, "4 again", b, iova, Access.READ);
        countFaults(p1, p2, p3, p4);
        Table tt = Probe.compactTable();
        List<Fault> stale = new ArrayList<>();
        for (Probe p : List.of(p1, p2, p3, p4)) {
            p.addCompact(tt);
            if (p.fault() != null) {
                stale.add(p.fault());
            }
        }
        r.line("translations by B (read):");
        r.table(tt);
        r.line("fault records of the refused ones (B's ring):");
        r.table(FaultsCommand.faultTable(stale));
        ArrayNode tj = r.data().putArray("translations");
        for (Probe p : List.of(p1, p2, p3, p4)) {
            tj.add(p.json());
        }
        r.check("before the link: fault NOT_PRESENT (cached in the TLB)", !p1.ok() && p1.fault() != null
                && p1.fault().reason() == FaultReason.NOT_PRESENT, p1.explain());
        r.check("linked without sync: still faults, decided from the TLB (flag TLB)", !p2.ok() && p2.fault() != null
                && p2.fault().reason() == FaultReason.NOT_PRESENT && p2.fault().fromTlb(), p2.explain());
        r.check("after sync: translates to A's page", p3.ok() && p3.translation().target() == a
                && p3.translation().phys() == pfns[0] << 12, p3.ok() ? "target " + p3.translation().target()
                + ", phys " + Fmt.addr(p3.translation().phys()) : p3.explain());
        r.check("translating again is a TLB hit", p4.ok() && p4.translation().tlbHit(),
                p4.ok() ? (p4.translation().tlbHit() ? "hit" : "miss") : p4.explain());

        // 8. Revoke.
        r.step("A revokes B's grant; B's accesses are refused");
        devA.revoke(a, b, memA.firstPfn(), pages);
        long grantsRevoked = devA.info().grants();
        r.line("revoked PFN %s..%s from initiator %d; A's grant table: %d entries", Fmt.hex(pfns[0]),
                Fmt.hex(pfns[pfns.length - 1]), b, grantsRevoked);
        UalException ep = expectRefused(() -> devB.copy(b, dstP.physical(0), phys[0], MappingOptions.PAGE));
        UalException ev = expectRefused(() -> devB.copy(b, dstV.physical(0), range.address(0), MappingOptions.PAGE));
        r.line("B copies 4 KiB in physical mode: %s", outcome(ep));
        r.line("B copies 4 KiB in virtual mode: %s", outcome(ev));
        List<Fault> fb = drain(s, b);
        drain(s, a);
        r.line("fault ring of B:");
        r.table(FaultsCommand.faultTable(fb));
        r.data().set("faultsOfB", faultsJson(fb));
        r.check("B's physical-mode copy refused", ep != null && ep.error() == ErrorCode.EACCES,
                ep == null ? "no error" : ep.error().name());
        r.check("B's virtual-mode copy refused", ev != null && ev.error() == ErrorCode.EACCES,
                ev == null ? "no error" : ev.error().name());
        long ng = fb.stream().filter(f -> f.reason() == FaultReason.NO_GRANT && f.target() == a).count();
        r.check("B's ring records both refusals as NO_GRANT at target A", ng == 2, ng + " NO_GRANT records");
        r.check("A's grant table is back where it started", grantsRevoked == grantsBefore,
                grantsRevoked + " entries");
    }

    private void summary(Session s, Report r, int b, boolean completed) {
        r.step("Summary");
        DeviceInfo ib = s.on(b).info();
        Table t = new Table("", "").noHeader();
        t.row("pages mapped", pagesMapped);
        t.row("bytes copied", bytesCopied + " (" + Fmt.size(bytesCopied) + ")");
        t.row("fabric requests", requests);
        t.row("faults recorded", faultsRecorded + " (" + faultsLost + " lost)");
        t.row("TLB hits / misses (B)", ib.tlbHits() + " / " + ib.tlbMisses());
        t.row("allocations during the PREALLOC link", preallocLinkAllocations);
        t.row("checks passed", r.passed() + " of " + (r.passed() + r.failed()));
        r.table(t);
        ObjectNode sum = r.root().putObject("summary");
        sum.put("pagesMapped", pagesMapped);
        sum.put("bytesCopied", bytesCopied);
        sum.put("requests", requests);
        sum.put("faults", faultsRecorded);
        sum.put("faultsLost", faultsLost);
        sum.put("tlbHits", ib.tlbHits());
        sum.put("tlbMisses", ib.tlbMisses());
        sum.put("preallocLinkAllocations", preallocLinkAllocations);
        sum.put("checksPassed", r.passed());
        sum.put("checksFailed", r.failed());
        sum.put("completed", completed);
        boolean pass = r.failed() == 0 && completed;
        r.root().put("passed", pass);
        if (r.human()) {
            r.out().printf("%nRESULT: %s (%d of %d checks passed)%n", pass ? "PASS" : "FAIL", r.passed(),
                    r.passed() + r.failed());
        }
    }

    private long copy(UalDevice dev, int initiator, FabricAddress dst, FabricAddress src, long len) {
        long chunk = 1L << 20;
        long n = 0;
        for (long off = 0; off < len; off += chunk) {
            long c = Math.min(chunk, len - off);
            dev.copy(initiator, dst.plus(off), src.plus(off), c);
            n += Pattern.requests(src.address() + off, dst.address() + off, c);
        }
        bytesCopied += len;
        requests += n;
        return n;
    }

    private static String outcome(UalException e) {
        return e == null ? "allowed!" : "refused: " + e.getMessage();
    }

    private static UalException expectRefused(Runnable action) {
        try {
            action.run();
            return null;
        } catch (UalException e) {
            return e;
        }
    }

    private List<Fault> drain(Session s, int accel) {
        FaultBatch batch = s.drain(accel);
        faultsRecorded += batch.faults().size();
        faultsLost += batch.lost();
        return batch.faults();
    }

    private void countFaults(Probe... probes) {
        for (Probe p : probes) {
            if (p.fault() != null) {
                faultsRecorded++;
            }
        }
    }

    private static ArrayNode faultsJson(List<Fault> faults) {
        ArrayNode a = Json.array();
        faults.forEach(f -> a.add(Json.fault(f)));
        return a;
    }
}
