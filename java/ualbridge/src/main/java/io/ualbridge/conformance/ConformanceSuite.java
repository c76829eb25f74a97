package io.ualbridge.conformance;

import static io.ualbridge.conformance.Capability.ALLOCATION_COUNTER;
import static io.ualbridge.conformance.Capability.CPU_MEMORY_ACCESS;
import static io.ualbridge.conformance.Capability.HOST_REGISTRATION;
import static io.ualbridge.conformance.Capability.MULTIPLE_ACCELERATORS;
import static io.ualbridge.conformance.Capability.PAGES_2M;
import static io.ualbridge.conformance.Capability.PAGES_64K;
import static io.ualbridge.conformance.Capability.PHYSICAL_MODE;
import static io.ualbridge.conformance.Capability.SECOND_HANDLE;
import static io.ualbridge.conformance.Capability.SINGLE_MODE;
import static io.ualbridge.conformance.Capability.VIRTUAL_MODE;
import static io.ualbridge.conformance.CheckContext.K4;
import static io.ualbridge.conformance.CheckContext.K64;
import static io.ualbridge.conformance.CheckContext.M2;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import io.ualbridge.Access;
import io.ualbridge.DeviceInfo;
import io.ualbridge.DeviceMemory;
import io.ualbridge.ErrorCode;
import io.ualbridge.FabricAddress;
import io.ualbridge.Fault;
import io.ualbridge.FaultBatch;
import io.ualbridge.FaultReason;
import io.ualbridge.HostBuffer;
import io.ualbridge.IovaRange;
import io.ualbridge.Mapping;
import io.ualbridge.Prot;
import io.ualbridge.Translation;
import io.ualbridge.Ual;
import io.ualbridge.UalDevice;
import io.ualbridge.UalException;

/**
 * The behavioural checks every ualbridge backend must pass, written against the public API only. Each check runs
 * on a fresh device opened from the URI under test and declares the capabilities it needs; it does not depend on
 * the PFN values of host pages (a kernel backend hands out real frames) nor on options of one backend.
 */
public final class ConformanceSuite {
    private static final List<Check> CHECKS = List.of(
            check("info-sanity", "info() describes a well-formed fabric (ABI major, ids, 57 physical bits, DMA "
                    + "limit, page-table levels, page sizes, request sizes, counters within bounds)",
                    ConformanceSuite::infoSanity),
            check("memory-alloc-free", "device memory allocations honour size and alignment, never overlap, and "
                    + "mem_free gives the bytes back", ConformanceSuite::memoryAllocFree),
            check("memory-read-write", "device memory reads as zeros when allocated and returns what the CPU wrote, "
                    + "across page boundaries", ConformanceSuite::memoryReadWrite, CPU_MEMORY_ACCESS),
            check("host-registration", "a registered host buffer yields one host-aperture PFN per page; overlapping "
                    + "or unaligned registrations are refused", ConformanceSuite::hostRegistration, HOST_REGISTRATION),
            check("map-pfns-physical", "map_pfns resolves PFNs to {pfn << 12, route(target)} and programs nothing",
                    ConformanceSuite::mapPfnsPhysical, PHYSICAL_MODE),
            check("iova-alloc-alignment", "IOVA ranges are aligned to the largest page size not above their size, "
                    + "never at 0, below the DMA limit and disjoint", ConformanceSuite::iovaAlignment, VIRTUAL_MODE),
            check("iova-dma-limit", "no IOVA range reaches past 1 << dma_bits: a range as large as the domain fails "
                    + "with ENOSPC", ConformanceSuite::iovaDmaLimit, VIRTUAL_MODE),
            check("link-sync-unlink-free", "the two-step API: link writes page-table entries, sync makes them "
                    + "translate, unlink removes them, free releases the range", ConformanceSuite::linkSyncUnlinkFree,
                    VIRTUAL_MODE),
            check("large-page-2m", "512 contiguous 2 MiB-aligned pages at a 2 MiB-aligned IOVA become one 2 MiB "
                    + "leaf that must be unlinked whole", ConformanceSuite::largePage2M, VIRTUAL_MODE, PAGES_2M),
            check("contiguous-64k", "16 contiguous 64 KiB-aligned pages at a 64 KiB-aligned IOVA translate as a "
                    + "64 KiB page", ConformanceSuite::contiguous64K, VIRTUAL_MODE, PAGES_64K),
            check("stale-tlb-until-sync", "a 'not present' cached before link is used until sync, and sync "
                    + "invalidates exactly its range", ConformanceSuite::staleTlbUntilSync, VIRTUAL_MODE),
            check("unlink-synchronous", "after unlink returns no initiator reaches the pages, even through a TLB "
                    + "that held them", ConformanceSuite::unlinkSynchronous, VIRTUAL_MODE),
            check("prealloc-pool-reserved", "PREALLOC reserves page-table pages at alloc: link and unlink leave the "
                    + "pool untouched, free returns the reservation", ConformanceSuite::preallocPool, VIRTUAL_MODE),
            check("prealloc-zero-allocation", "link and unlink on a PREALLOC range make no allocation "
                    + "(alloc_count unchanged)", ConformanceSuite::preallocZeroAllocation, VIRTUAL_MODE,
                    ALLOCATION_COUNTER),
            check("grants-and-revoke", "a target refuses ungranted and wrongly-protected requests, a revoke inside "
                    + "a grant splits it and takes effect at once", ConformanceSuite::grantsAndRevoke,
                    MULTIPLE_ACCELERATORS),
            check("fault-reasons-virtual", "translation faults of a domain: NOT_PRESENT and PROT, with the "
                    + "request's address, initiator, access and no target", ConformanceSuite::faultReasonsVirtual,
                    VIRTUAL_MODE),
            check("fault-reasons-physical", "routed requests fault OUT_OF_RANGE past the target's memory and "
                    + "BAD_TARGET for an accelerator not in the fabric", ConformanceSuite::faultReasonsPhysical,
                    PHYSICAL_MODE),
            check("fault-reason-mode", "a request in the mode the fabric lacks faults with reason MODE, and the "
                    + "calls of that mode return ENOTSUP", ConformanceSuite::faultReasonMode, SINGLE_MODE),
            check("copy-physical", "copy moves bytes between routed addresses in 64-256 byte requests, locally "
                    + "and across accelerators with a grant", ConformanceSuite::copyPhysical, PHYSICAL_MODE,
                    CPU_MEMORY_ACCESS),
            check("copy-virtual", "copy moves bytes between IOVAs", ConformanceSuite::copyVirtual, VIRTUAL_MODE,
                    CPU_MEMORY_ACCESS),
            check("copy-host-roundtrip", "copy moves bytes host -> device -> host (no CPU access to device memory "
                    + "needed)", ConformanceSuite::copyHostRoundtrip, HOST_REGISTRATION),
            check("copy-refused-moves-nothing", "a copy with one refused request moves no byte and records "
                    + "exactly one fault", ConformanceSuite::copyRefused, CPU_MEMORY_ACCESS),
            check("fault-ring-order", "fault records come out oldest first with consecutive sequence numbers, "
                    + "once", ConformanceSuite::faultRingOrder),
            check("fault-ring-overflow", "when the ring overflows, records read plus faults lost equals faults "
                    + "made, and lost resets after it is read", ConformanceSuite::faultRingOverflow),
            check("bad-inputs-memory", "memory calls refuse bad sizes, alignments, ranges and double frees with "
                    + "their documented code and change nothing", ConformanceSuite::badInputsMemory),
            check("bad-inputs-grants", "grant and revoke refuse bad targets, initiators, ranges, overlaps and "
                    + "unknown grants with their documented code and change nothing", ConformanceSuite::badInputsGrants,
                    MULTIPLE_ACCELERATORS),
            check("bad-inputs-physical", "map_pfns refuses bad targets, PFNs and protections with its documented "
                    + "code and changes nothing", ConformanceSuite::badInputsPhysical, PHYSICAL_MODE),
            check("bad-inputs-virtual", "iova alloc/link/sync/unlink refuse bad sizes, offsets, PFNs, targets, "
                    + "overlaps and splits with their documented code and change nothing",
                    ConformanceSuite::badInputsVirtual, VIRTUAL_MODE),
            check("bad-inputs-hardware", "translate, copy and dump refuse bad access, initiators, lengths and "
                    + "wrapping windows with their documented code, record no fault and change nothing",
                    ConformanceSuite::badInputsHardware),
            check("close-releases-everything", "closing a handle frees its memory, ranges and their links, grants "
                    + "and host registrations", ConformanceSuite::closeReleases, SECOND_HANDLE),
            check("peers", "open_peer opens every accelerator of the fabric, each with its own memory; an id "
                    + "outside the fabric is ENODEV", ConformanceSuite::peers));

    private ConformanceSuite() {
    }

    /**
     * Returns every check, in a stable order.
     *
     * @return the checks
     */
    public static List<Check> checks() {
        return CHECKS;
    }

    /**
     * Returns the checks with the given names, in suite order.
     *
     * @param names check names
     * @return the checks
     * @throws IllegalArgumentException naming an unknown check
     */
    public static List<Check> select(List<String> names) {
        Set<String> want = new HashSet<>(names);
        for (String n : names) {
            if (CHECKS.stream().noneMatch(c -> c.name().equals(n))) {
                throw new IllegalArgumentException("no check named '" + n + "' (checks: "
                        + String.join(", ", CHECKS.stream().map(Check::name).toList()) + ")");
            }
        }
        return CHECKS.stream().filter(c -> want.contains(c.name())).toList();
    }

    private static Check check(String name, String description, Check.Body body, Capability... needs) {
        return new Check(name, description, needs.length == 0 ? EnumSet.noneOf(Capability.class)
                : EnumSet.copyOf(Arrays.asList(needs)), body);
    }

    // ---- info, memory, host ------------------------------------------------------------------------------------

    static void infoSanity(CheckContext c) {
        DeviceInfo i = c.dev().info();
        c.expectEqual("ABI major", i.abiVersion() >>> 16, Ual.abiVersion() >>> 16);
        c.expectEqual("accelerator id of info() and of the handle", i.acceleratorId(), c.dev().acceleratorId());
        c.expect(i.acceleratorCount() >= 1 && i.acceleratorCount() <= 1024, "accelerator count %d outside 1..1024",
                i.acceleratorCount());
        c.expect(i.acceleratorId() < i.acceleratorCount(), "accelerator id %d not below the count %d",
                i.acceleratorId(), i.acceleratorCount());
        c.expect(i.modes() != 0 && (i.modes() & ~3) == 0, "modes 0x%x: must be a non-empty subset of physical|virtual",
                i.modes());
        c.expectEqual("physBits", i.physBits(), 57);
        c.expect(i.dmaBits() >= 21 && i.dmaBits() <= 57, "dmaBits %d outside 21..57", i.dmaBits());
        c.expectEqual("page-table levels for " + i.dmaBits() + " DMA bits (radix 512 over 4 KiB)",
                i.pageTableLevels(), (i.dmaBits() - 12 + 8) / 9);
        long allowed = K4 | K64 | M2;
        c.expect((i.pageSizeBitmap() & K4) != 0 && (i.pageSizeBitmap() & ~allowed) == 0,
                "page-size bitmap 0x%x: must hold 4 KiB and only 4 KiB, 64 KiB, 2 MiB", i.pageSizeBitmap());
        c.expect(i.memorySize() > 0 && i.memorySize() % K4 == 0, "memory size %d: must be a non-zero multiple of 4 KiB",
                i.memorySize());
        c.expect(i.memoryFree() <= i.memorySize() && i.memoryFree() % K4 == 0,
                "memory free %d: must be a multiple of 4 KiB not above the size %d", i.memoryFree(), i.memorySize());
        c.expect(i.ptPoolFree() <= i.ptPoolPages(), "pt pool free %d above the pool size %d", i.ptPoolFree(),
                i.ptPoolPages());
        if (i.supportsVirtual()) {
            c.expect(i.tlbEntries() > 0, "a virtual-mode domain with %d TLB entries", i.tlbEntries());
        }
        c.expectEqual("requestMin", i.requestMin(), 64);
        c.expectEqual("requestMax", i.requestMax(), 256);
        c.expect(!i.backend().isEmpty(), "empty backend name");
        String scheme = c.dev().uri().substring(0, Math.max(0, c.dev().uri().indexOf(':')));
        c.expectEqual("backend name of URI scheme '" + scheme + "'", i.backend(), scheme);
    }

    static void memoryAllocFree(CheckContext c) {
        UalDevice d = c.dev();
        long free0 = d.info().memoryFree();
        if (c.info().memorySize() < 17 * K4) {
            throw c.skip("needs 17 pages of device memory; the accelerator has " + c.info().memorySize() + " bytes");
        }
        DeviceMemory a = d.allocMemory(16 * K4, 0);
        c.expectEqual("memoryFree after allocating 64 KiB", d.info().memoryFree(), free0 - 16 * K4);
        c.expectEqual("pages of a 64 KiB block", a.pageCount(), 16L);
        long[] pfns = a.pfns();
        for (int k = 1; k < pfns.length; k++) {
            c.expectEqual("PFN " + k + " of a contiguous block", pfns[k], pfns[0] + k);
        }
        c.expect((pfns[15] + 1) * K4 <= c.info().memorySize(), "block [0x%x, +16) passes the end of memory", pfns[0]);
        DeviceMemory b = d.allocMemory(K4, K64);
        c.expect(b.firstPfn() % 16 == 0, "a block aligned to 64 KiB starts at PFN 0x%x", b.firstPfn());
        c.expect(b.firstPfn() + 1 <= a.firstPfn() || b.firstPfn() >= a.firstPfn() + 16,
                "block at PFN 0x%x overlaps the block at 0x%x+16", b.firstPfn(), a.firstPfn());
        c.expectEqual("memoryFree after a second block", d.info().memoryFree(), free0 - 17 * K4);
        a.close();
        b.close();
        c.expectEqual("memoryFree after freeing both", d.info().memoryFree(), free0);
    }

    static void memoryReadWrite(CheckContext c) {
        UalDevice d = c.dev();
        DeviceMemory m = c.mem(c.local(), 2 * K4, 0);
        c.expect(Arrays.equals(m.read(0, (int) (2 * K4)), new byte[(int) (2 * K4)]), "a new block does not read as zeros");
        byte[] p = pattern(100, 7);
        d.writeMemory(m.physAddress() + K4 - 50, p); // across the page boundary
        c.expect(Arrays.equals(d.readMemory(m.physAddress() + K4 - 50, 100), p), "bytes read back differ from "
                + "those written across a page boundary");
        c.expect(Arrays.equals(m.read(0, (int) (K4 - 50)), new byte[(int) (K4 - 50)]), "a write touched bytes "
                + "before it");
        c.expect(Arrays.equals(m.read(K4 + 50, (int) (K4 - 50)), new byte[(int) (K4 - 50)]), "a write touched "
                + "bytes after it");
        d.writeMemory(m.physAddress(), new byte[0]); // len 0 is a no-op
        long size = m.size();
        m.close();
        DeviceMemory again = c.mem(c.local(), size, 0);
        c.expect(Arrays.equals(again.read(0, (int) size), new byte[(int) size]),
                "a block allocated after a written one was freed does not read as zeros");
    }

    static void hostRegistration(CheckContext c) {
        UalDevice d = c.dev();
        HostBuffer hb = c.track(d.allocateHostBuffer(3 * K4));
        long[] pfns = hb.pfns();
        c.expectEqual("PFNs of a 3-page buffer", pfns.length, 3);
        c.expect(Arrays.stream(pfns).distinct().count() == 3, "host PFNs %s are not distinct", Arrays.toString(pfns));
        for (long pfn : pfns) {
            c.expect(pfn >= CheckContext.HOST_BASE >>> 12 && pfn < 1L << 45, "host PFN 0x%x outside the host aperture "
                    + "[UAL_HOST_BASE >> 12, 2^45)", pfn);
        }
        c.expectEqual("accelerator of the buffer", hb.accelerator(), c.local());
        List<CheckContext.State> before = c.state(c.local());
        c.expectError("registering an already registered buffer", ErrorCode.EEXIST, () -> d.register(hb.segment()));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(2 * K4, K4);
            c.expectError("registering an unaligned buffer", ErrorCode.EINVAL, () -> d.register(seg.asSlice(64, K4)));
            c.expectError("registering a buffer whose length is not a page multiple", ErrorCode.EINVAL,
                    () -> d.register(seg.asSlice(0, K4 + 8)));
        }
        c.expectUnchanged(before, "refused registrations");
        hb.close();
        if (c.caps().has(PHYSICAL_MODE)) {
            c.expectError("map_pfns of an unregistered host page", ErrorCode.ENOENT,
                    () -> d.mapPfns(c.local(), new long[] {pfns[0]}, Prot.READ));
        }
    }

    static void mapPfnsPhysical(CheckContext c) {
        UalDevice d = c.dev();
        DeviceMemory m = c.mem(c.local(), 4 * K4, 0);
        int[] peers = c.count() > 1 ? new int[] {c.local(), c.other()} : new int[] {c.local()};
        List<CheckContext.State> before = c.state(peers);
        expectRouted(c, c.local(), m.pfns(), d.mapPfns(c.local(), m.pfns(), Prot.RW));
        if (c.caps().has(HOST_REGISTRATION)) {
            HostBuffer hb = c.track(d.allocateHostBuffer(2 * K4));
            expectRouted(c, c.local(), hb.pfns(), d.mapPfns(c.local(), hb.pfns(), Prot.READ));
            before = c.state(peers);
        }
        if (c.count() > 1) {
            DeviceMemory pm = c.mem(c.other(), 2 * K4, 0);
            before = c.state(peers);
            expectRouted(c, c.other(), pm.pfns(), d.mapPfns(c.other(), pm.pfns(), Prot.WRITE));
        }
        c.expectUnchanged(before, "map_pfns (physical mode programs nothing)");
    }

    private static void expectRouted(CheckContext c, int target, long[] pfns, FabricAddress[] got) {
        c.expectEqual("addresses returned", got.length, pfns.length);
        for (int k = 0; k < pfns.length; k++) {
            c.expectEqual("map_pfns of PFN 0x" + Long.toHexString(pfns[k]), got[k],
                    FabricAddress.physical(target, pfns[k] << 12));
        }
    }

    // ---- virtual mode -----------------------------------------------------------------------------------------

    /** The largest page size of the domain not above {@code size}. */
    static long alignmentFor(DeviceInfo i, long size) {
        long best = K4;
        for (long ps : i.pageSizes()) {
            if (ps <= size && ps > best) {
                best = ps;
            }
        }
        return best;
    }

    static void iovaAlignment(CheckContext c) {
        DeviceInfo i = c.info();
        long limit = i.dmaBits() >= 63 ? Long.MAX_VALUE : 1L << i.dmaBits();
        long[] sizes = {K4, 3 * K4, K64, 3 * K64, M2, 3 * M2, K4, K64 + K4};
        long ranges0 = c.dev().info().iovaRanges();
        List<long[]> got = new ArrayList<>();
        for (long size : sizes) {
            if (size > limit / 4) {
                continue; // a 2^21 domain holds no 6 MiB range
            }
            IovaRange r = c.range(c.local(), size, 0);
            long align = alignmentFor(i, size);
            c.expect(r.iova() != 0, "a %d-byte range at IOVA 0", size);
            c.expect(r.iova() % align == 0, "a %d-byte range at 0x%x is not aligned to %d bytes", size, r.iova(), align);
            c.expect(r.iova() + size <= limit && r.iova() + size > r.iova(), "range 0x%x+%d passes the DMA limit 0x%x",
                    r.iova(), size, limit);
            for (long[] o : got) {
                c.expect(r.iova() + size <= o[0] || r.iova() >= o[0] + o[1], "range 0x%x+%d overlaps 0x%x+%d",
                        r.iova(), size, o[0], o[1]);
            }
            got.add(new long[] {r.iova(), size});
        }
        c.expectEqual("iovaRanges counts the live ranges", c.dev().info().iovaRanges(), ranges0 + got.size());
    }

    static void iovaDmaLimit(CheckContext c) {
        DeviceInfo i = c.info();
        List<CheckContext.State> before = c.state(c.local());
        c.expectError("allocating a range as large as the whole domain (IOVA 0 is never handed out)", ErrorCode.ENOSPC,
                () -> c.dev().allocIova(1L << i.dmaBits(), 0));
        c.expectUnchanged(before, "the refused allocation");
        if (i.dmaBits() <= 24) {
            // small domain: fill it and see every range stay below the limit
            long n = 0;
            while (true) {
                IovaRange r;
                try {
                    r = c.range(c.local(), K64, 0);
                } catch (UalException e) {
                    c.expectEqual("error when the domain is full", e.error(), ErrorCode.ENOSPC);
                    break;
                }
                c.expect(r.iova() + K64 <= 1L << i.dmaBits(), "range 0x%x passes the DMA limit", r.iova());
                c.expect(++n < (1L << i.dmaBits()) / K64, "more 64 KiB ranges than the domain holds");
            }
        }
    }

    static void linkSyncUnlinkFree(CheckContext c) {
        UalDevice d = c.dev();
        DeviceMemory m = c.mem(c.local(), 8 * K4, 0);
        c.warmDomain();
        DeviceInfo i0 = d.info();
        IovaRange r = d.allocIova(8 * K4, 0);
        c.expectEqual("iovaRanges after alloc", d.info().iovaRanges(), i0.iovaRanges() + 1);
        r.link(0, c.local(), m.pfns(), Prot.RW);
        c.expectEqual("mappedPages after linking 8 pages", d.info().mappedPages(), i0.mappedPages() + 8);
        List<Mapping> dump = r.dump();
        long covered = 0;
        for (Mapping e : dump) {
            long off = e.iova() - r.iova();
            c.expectEqual("phys of the entry at +" + off, e.phys(), m.physAddress() + off);
            c.expectEqual("target of the entry at +" + off, e.target(), c.local());
            c.expectEqual("prot of the entry at +" + off, Prot.toString(e.prot()), "rw");
            covered += e.size();
        }
        c.expectEqual("bytes covered by the dump", covered, 8 * K4);
        r.sync();
        for (int k = 0; k < 8; k++) {
            Translation t = d.translate(c.local(), r.address(k * K4 + 128), Access.READ);
            c.expectEqual("phys of page " + k, t.phys(), m.physAddress() + k * K4 + 128);
            c.expectEqual("target of page " + k, t.target(), c.local());
        }
        r.unlink(0, 8 * K4);
        c.expectEqual("mappedPages after unlink", d.info().mappedPages(), i0.mappedPages());
        c.expect(r.dump().isEmpty(), "entries left after unlink: %s", r.dump());
        c.expectError("translating an unlinked page", ErrorCode.EFAULT,
                () -> d.translate(c.local(), r.address(0), Access.READ));
        c.expectOneFault(c.local(), FaultReason.NOT_PRESENT);
        r.close();
        c.expectEqual("iovaRanges after free", d.info().iovaRanges(), i0.iovaRanges());
        c.expectEqual("ptPoolFree after free", d.info().ptPoolFree(), i0.ptPoolFree());
    }

    static void largePage2M(CheckContext c) {
        UalDevice d = c.dev();
        DeviceMemory m = c.memOrSkip(c.local(), M2, M2);
        IovaRange r = c.range(c.local(), M2, 0);
        c.expect(r.iova() % M2 == 0, "a 2 MiB range at 0x%x", r.iova());
        long mapped0 = d.info().mappedPages();
        r.link(0, c.local(), m.pfns(), Prot.READ);
        List<Mapping> dump = r.dump();
        c.expect(dump.size() == 1 && dump.get(0).size() == M2, "expected one 2 MiB leaf, got %s", dump);
        c.expectEqual("mappedPages counts 4 KiB pages", d.info().mappedPages(), mapped0 + 512);
        r.sync();
        Translation t = d.translate(c.local(), r.address(300 * K4 + 64), Access.READ);
        c.expectEqual("page size of a translation in the leaf", t.pageSize(), M2);
        c.expectEqual("phys of page 300 of the leaf", t.phys(), m.physAddress() + 300 * K4 + 64);
        List<CheckContext.State> before = c.state(c.local());
        c.expectError("unlinking one page of a 2 MiB leaf", ErrorCode.EINVAL, () -> r.unlink(K4, K4));
        c.expectUnchanged(before, "the refused partial unlink");
        r.unlink(0, M2);
        c.expectEqual("mappedPages after unlinking the leaf", d.info().mappedPages(), mapped0);
        // the same pages one page off a 2 MiB boundary cannot use the leaf
        IovaRange r2 = c.range(c.local(), 2 * M2, 0);
        r2.link(K4, c.local(), m.pfns(), Prot.READ);
        c.expect(r2.dump().stream().noneMatch(e -> e.size() == M2), "a 2 MiB leaf at an IOVA that is not 2 MiB "
                + "aligned: %s", r2.dump().stream().filter(e -> e.size() == M2).toList());
    }

    static void contiguous64K(CheckContext c) {
        UalDevice d = c.dev();
        DeviceMemory m = c.mem(c.local(), K64, K64);
        IovaRange r = c.range(c.local(), K64, 0);
        r.link(0, c.local(), m.pfns(), Prot.RW);
        r.sync();
        Translation t = d.translate(c.local(), r.address(5 * K4), Access.WRITE);
        c.expectEqual("page size of a 64 KiB contiguous run", t.pageSize(), K64);
        c.expectEqual("phys of page 5", t.phys(), m.physAddress() + 5 * K4);
        c.expectError("unlinking one page of a 64 KiB entry", ErrorCode.EINVAL, () -> r.unlink(K4, K4));
        r.unlink(0, K64);
    }

    static void staleTlbUntilSync(CheckContext c) {
        UalDevice d = c.dev();
        if (c.info().tlbEntries() < 2) {
            throw c.skip("the TLB holds " + c.info().tlbEntries() + " entry; the check caches two");
        }
        DeviceMemory m = c.mem(c.local(), 2 * K4, 0);
        IovaRange r = c.range(c.local(), 2 * K4, 0);
        for (int k = 0; k < 2; k++) {
            final int page = k;
            c.expectError("translating page " + k + " before link", ErrorCode.EFAULT,
                    () -> d.translate(c.local(), r.address(page * K4), Access.READ));
            c.expectOneFault(c.local(), FaultReason.NOT_PRESENT);
        }
        r.link(0, c.local(), m.pfns(), Prot.RW);
        c.expectError("translating page 0 after link, before sync (the TLB caches 'not present')", ErrorCode.EFAULT,
                () -> d.translate(c.local(), r.address(0), Access.READ));
        Fault f = c.expectOneFault(c.local(), FaultReason.NOT_PRESENT);
        c.expect(f.fromTlb(), "the stale 'not present' fault is not marked as decided from the TLB: %s", f);
        r.sync(0, K4);
        Translation t = d.translate(c.local(), r.address(0), Access.READ);
        c.expectEqual("phys of page 0 after sync", t.phys(), m.physAddress());
        c.expectError("translating page 1 after a sync of page 0 only", ErrorCode.EFAULT,
                () -> d.translate(c.local(), r.address(K4), Access.READ));
        c.expect(c.expectOneFault(c.local(), FaultReason.NOT_PRESENT).fromTlb(),
                "page 1's stale fault is not marked as decided from the TLB");
        r.sync(K4, K4);
        c.expectEqual("phys of page 1 after its sync", d.translate(c.local(), r.address(K4), Access.READ).phys(),
                m.physAddress() + K4);
    }

    static void unlinkSynchronous(CheckContext c) {
        UalDevice d = c.dev();
        DeviceMemory m = c.mem(c.local(), K4, 0);
        IovaRange r = c.range(c.local(), K4, 0);
        r.link(0, c.local(), m.pfns(), Prot.RW);
        r.sync();
        d.translate(c.local(), r.address(0), Access.READ);
        Translation hit = d.translate(c.local(), r.address(0), Access.READ);
        c.expect(hit.tlbHit(), "a second translation of the same page did not hit the TLB");
        r.unlink(0, K4);
        c.expectError("translating after unlink (no sync)", ErrorCode.EFAULT,
                () -> d.translate(c.local(), r.address(0), Access.READ));
        c.expectOneFault(c.local(), FaultReason.NOT_PRESENT);
    }

    static void preallocPool(CheckContext c) {
        UalDevice d = c.dev();
        c.warmDomain();
        long pool0 = d.info().ptPoolFree();
        long size = c.spanningRangeSize(), at = size / 2 - 8 * K4;
        DeviceMemory m = c.mem(c.local(), 16 * K4, 0);
        IovaRange r = d.allocIova(size, IovaRange.PREALLOC);
        long pool1 = d.info().ptPoolFree();
        // a one-level domain has nothing to reserve beyond its root
        c.expect(pool1 < pool0 || c.info().pageTableLevels() == 1, "a PREALLOC range reserved no page-table page "
                + "(pool free %d before and after)", pool0);
        r.link(at, c.local(), m.pfns(), Prot.RW); // across the middle of the range
        c.expectEqual("ptPoolFree after link on a PREALLOC range", d.info().ptPoolFree(), pool1);
        r.sync();
        r.unlink(at, 16 * K4);
        c.expectEqual("ptPoolFree after unlink on a PREALLOC range", d.info().ptPoolFree(), pool1);
        r.close();
        c.expectEqual("ptPoolFree after freeing the PREALLOC range", d.info().ptPoolFree(), pool0);
        // without PREALLOC the pool pays at link and is repaid at unlink
        IovaRange plain = d.allocIova(size, 0);
        c.expectEqual("ptPoolFree after a plain alloc", d.info().ptPoolFree(), pool0);
        plain.link(at, c.local(), m.pfns(), Prot.RW);
        c.expect(d.info().ptPoolFree() < pool0 || c.info().pageTableLevels() == 1,
                "linking a fresh plain range took no page-table page");
        plain.unlink(at, 16 * K4);
        plain.close();
        c.expectEqual("ptPoolFree after unlink and free of the plain range", d.info().ptPoolFree(), pool0);
    }

    static void preallocZeroAllocation(CheckContext c) {
        UalDevice d = c.dev();
        DeviceMemory m = c.mem(c.local(), 16 * K4, 0);
        long size = c.spanningRangeSize(), at = size / 2 - 8 * K4;
        IovaRange r = c.range(c.local(), size, IovaRange.PREALLOC);
        long n0 = d.allocCount();
        for (int round = 0; round < 3; round++) {
            r.link(at, c.local(), m.pfns(), Prot.RW);
            r.link(size - 4 * K4, c.local(), Arrays.copyOf(m.pfns(), 4), Prot.READ);
            r.unlink(at, 16 * K4);
            r.unlink(size - 4 * K4, 4 * K4);
        }
        c.expectEqual("alloc_count across link/unlink on a PREALLOC range", d.allocCount(), n0);
    }

    // ---- grants and faults ------------------------------------------------------------------------------------

    static void grantsAndRevoke(CheckContext c) {
        UalDevice d = c.dev();
        int target = c.local(), init = c.other();
        DeviceMemory m = c.mem(target, 4 * K4, 0);
        FabricAddress[] a = new FabricAddress[4];
        for (int k = 0; k < 4; k++) {
            a[k] = c.reach(init, target, m.firstPfn() + k, Prot.RW);
        }
        UalDevice p = c.on(init);
        c.expectError("an ungranted read", ErrorCode.EACCES, () -> p.translate(init, a[0], Access.READ));
        Fault f = c.expectOneFault(init, FaultReason.NO_GRANT);
        c.expectEqual("target of the initiator's record", f.target(), target);
        c.expect(!f.atTarget(), "the initiator's record is marked as the target's: %s", f);
        Fault ft = c.expectOneFault(target, FaultReason.NO_GRANT);
        c.expect(ft.atTarget(), "the target's record is not marked as kept at the target: %s", ft);
        c.expectEqual("initiator of the target's record", ft.initiator(), init);

        long g0 = d.info().grants();
        d.grant(target, init, m.firstPfn(), 4, Prot.READ);
        c.expectEqual("grants after one grant", d.info().grants(), g0 + 1);
        Translation t = p.translate(init, a[2], Access.READ);
        c.expectEqual("target of a granted read", t.target(), target);
        c.expectEqual("phys of a granted read", t.phys(), m.physAddress() + 2 * K4);
        c.expectError("a write under a read-only grant", ErrorCode.EACCES, () -> p.translate(init, a[1], Access.WRITE));
        c.expectOneFault(init, FaultReason.GRANT_PROT);
        c.expectOneFault(target, FaultReason.GRANT_PROT);

        d.revoke(target, init, m.firstPfn() + 1, 2);
        c.expectEqual("grants after revoking the middle of a grant (split)", d.info().grants(), g0 + 2);
        p.translate(init, a[0], Access.READ);
        p.translate(init, a[3], Access.READ);
        for (int k = 1; k <= 2; k++) {
            final int page = k;
            c.expectError("reading revoked page " + k, ErrorCode.EACCES, () -> p.translate(init, a[page], Access.READ));
            c.expectOneFault(init, FaultReason.NO_GRANT);
        }
        c.drainFaults(d);
        c.expectError("revoking a page twice", ErrorCode.ENOENT, () -> d.revoke(target, init, m.firstPfn() + 1, 1));
        d.revoke(target, init, m.firstPfn(), 1);
        d.revoke(target, init, m.firstPfn() + 3, 1);
        c.expectEqual("grants after revoking the rest", d.info().grants(), g0);
        // the target's own requests need no grant
        FabricAddress own = c.reach(target, target, m.firstPfn(), Prot.RW);
        d.translate(target, own, Access.WRITE);
    }

    static void faultReasonsVirtual(CheckContext c) {
        UalDevice d = c.dev();
        DeviceMemory m = c.mem(c.local(), K4, 0);
        IovaRange r = c.range(c.local(), 2 * K4, 0);
        r.link(0, c.local(), m.pfns(), Prot.READ);
        r.sync();
        c.expectError("writing through a read-only mapping", ErrorCode.EFAULT,
                () -> d.translate(c.local(), r.address(64), Access.WRITE));
        Fault f = c.expectOneFault(c.local(), FaultReason.PROT);
        expectFault(c, f, r.address(64), c.local(), -1, Access.WRITE);
        c.expectError("reading an unlinked page", ErrorCode.EFAULT,
                () -> d.translate(c.local(), r.address(K4 + 128), Access.READ));
        f = c.expectOneFault(c.local(), FaultReason.NOT_PRESENT);
        expectFault(c, f, r.address(K4 + 128), c.local(), -1, Access.READ);
        if (c.count() > 1) {
            c.on(c.other()); // open (and drain) its ring before faulting there
            // another initiator's domain does not hold the mapping
            c.expectError("the same IOVA from another accelerator", ErrorCode.EFAULT,
                    () -> d.translate(c.other(), r.address(0), Access.READ));
            f = c.expectOneFault(c.other(), FaultReason.NOT_PRESENT);
            expectFault(c, f, r.address(0), c.other(), -1, Access.READ);
            c.expectNoFault(c.local(), "a fault of another initiator");
        }
    }

    private static void expectFault(CheckContext c, Fault f, FabricAddress addr, int init, int target, int access) {
        c.expectEqual("address of " + f.reason() + " fault", f.address(), addr);
        c.expectEqual("initiator of " + f.reason() + " fault", f.initiator(), init);
        c.expectEqual("target of " + f.reason() + " fault", f.target(), target);
        c.expectEqual("access of " + f.reason() + " fault", f.access(), access);
        c.expect(f.length() > 0 && f.length() <= 256, "length %d of a fault record", f.length());
    }

    static void faultReasonsPhysical(CheckContext c) {
        UalDevice d = c.dev();
        FabricAddress past = FabricAddress.physical(c.local(), c.info().memorySize());
        c.expectError("reading past the target's memory", ErrorCode.EFAULT, () -> d.translate(c.local(), past,
                Access.READ));
        Fault f = c.expectOneFault(c.local(), FaultReason.OUT_OF_RANGE);
        expectFault(c, f, past, c.local(), c.local(), Access.READ);
        if (c.count() < 1024) {
            FabricAddress nowhere = FabricAddress.physical(c.count(), 0);
            c.expectError("a request routed to accelerator " + c.count() + " (not in the fabric)", ErrorCode.EFAULT,
                    () -> d.translate(c.local(), nowhere, Access.WRITE));
            f = c.expectOneFault(c.local(), FaultReason.BAD_TARGET);
            expectFault(c, f, nowhere, c.local(), -1, Access.WRITE);
        }
        if (c.count() > 1) {
            // past the memory of another accelerator: recorded by the initiator and at the target
            FabricAddress peerPast = FabricAddress.physical(c.other(), c.on(c.other()).info().memorySize());
            c.expectError("reading past another accelerator's memory", ErrorCode.EFAULT,
                    () -> d.translate(c.local(), peerPast, Access.READ));
            c.expectOneFault(c.local(), FaultReason.OUT_OF_RANGE);
            c.expect(c.expectOneFault(c.other(), FaultReason.OUT_OF_RANGE).atTarget(), "target's record not at target");
        }
    }

    static void faultReasonMode(CheckContext c) {
        UalDevice d = c.dev();
        DeviceMemory m = c.mem(c.local(), K4, 0);
        FabricAddress wrong;
        if (c.info().supportsPhysical()) {
            wrong = FabricAddress.iova(M2);
            c.expectError("iova_alloc without virtual mode", ErrorCode.ENOTSUP, () -> d.allocIova(K4, 0));
        } else {
            wrong = FabricAddress.physical(c.local(), m.physAddress());
            c.expectError("map_pfns without physical mode", ErrorCode.ENOTSUP,
                    () -> d.mapPfns(c.local(), m.pfns(), Prot.READ));
        }
        c.expectError("a request in the missing mode", ErrorCode.EFAULT, () -> d.translate(c.local(), wrong,
                Access.READ));
        expectFault(c, c.expectOneFault(c.local(), FaultReason.MODE), wrong, c.local(), -1, Access.READ);
    }

    // ---- copy -------------------------------------------------------------------------------------------------

    static byte[] pattern(int len, int seed) {
        byte[] b = new byte[len];
        for (int k = 0; k < len; k++) {
            b[k] = (byte) (k * 31 + seed * 17 + (k >> 8));
        }
        return b;
    }

    static void copyPhysical(CheckContext c) {
        UalDevice d = c.dev();
        DeviceMemory m = c.mem(c.local(), 4 * K4, 0);
        byte[] src = pattern((int) (2 * K4), 1);
        m.write(0, src);
        d.copy(c.local(), m.physical(2 * K4), m.physical(0), 2 * K4);
        c.expect(Arrays.equals(m.read(2 * K4, (int) (2 * K4)), src), "bytes copied page 0-1 -> 2-3 differ");
        // unaligned to 256 and crossing a page: cut into 64..256-byte requests
        d.copy(c.local(), m.physical(3 * K4 - 192), m.physical(192), 448);
        byte[] want = Arrays.copyOfRange(src, 192, 640);
        c.expect(Arrays.equals(m.read(3 * K4 - 192, 448), want), "a 448-byte copy across a page boundary differs");
        c.expectNoFault(c.local(), "successful copies");
        if (c.count() > 1) {
            DeviceMemory pm = c.mem(c.other(), K4, 0);
            d.grant(c.local(), c.other(), m.firstPfn(), 1, Prot.READ);
            c.on(c.other()).copy(c.other(), pm.physical(0), m.physical(0), K4);
            c.expect(Arrays.equals(pm.read(0, (int) K4), Arrays.copyOf(src, (int) K4)),
                    "bytes copied by accelerator %d from %d differ", c.other(), c.local());
        }
    }

    static void copyVirtual(CheckContext c) {
        UalDevice d = c.dev();
        DeviceMemory m = c.mem(c.local(), 4 * K4, 0);
        byte[] src = pattern((int) (2 * K4), 2);
        m.write(0, src);
        IovaRange r = c.range(c.local(), 4 * K4, 0);
        r.link(0, c.local(), m.pfns(), Prot.RW);
        r.sync();
        d.copy(c.local(), r.address(2 * K4), r.address(0), 2 * K4);
        c.expect(Arrays.equals(m.read(2 * K4, (int) (2 * K4)), src), "bytes copied through IOVAs differ");
        d.copy(c.local(), r.address(K4 + 64), r.address(3 * K4 + 64), 256);
        c.expect(Arrays.equals(m.read(K4 + 64, 256), Arrays.copyOfRange(src, (int) K4 + 64, (int) K4 + 320)),
                "a 256-byte copy at +64 differs");
        c.expectNoFault(c.local(), "successful copies");
    }

    static void copyHostRoundtrip(CheckContext c) {
        UalDevice d = c.dev();
        HostBuffer hb = c.track(d.allocateHostBuffer(2 * K4));
        DeviceMemory m = c.mem(c.local(), K4, 0);
        // one 64-byte request short of a page: a DMA engine may not reach its buffer's last byte (QEMU's edu)
        final long n = K4 - 64;
        byte[] p = pattern((int) n, 3);
        hb.segment().asSlice(0, n).copyFrom(MemorySegment.ofArray(p));
        FabricAddress host0 = c.reach(c.local(), c.local(), hb.pfns()[0], Prot.RW);
        FabricAddress host1 = c.reach(c.local(), c.local(), hb.pfns()[1], Prot.RW);
        FabricAddress dev0 = c.reach(c.local(), c.local(), m.firstPfn(), Prot.RW);
        d.copy(c.local(), dev0, host0, n);
        d.copy(c.local(), host1, dev0, n);
        byte[] back = hb.segment().asSlice(K4, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        c.expect(Arrays.equals(back, p), "bytes copied host -> device -> host differ");
    }

    static void copyRefused(CheckContext c) {
        UalDevice d = c.dev();
        DeviceMemory src = c.mem(c.local(), 2 * K4, 0);
        src.write(0, pattern((int) (2 * K4), 4));
        if (c.caps().has(VIRTUAL_MODE)) {
            DeviceMemory dst = c.mem(c.local(), 2 * K4, 0);
            IovaRange r = c.range(c.local(), 4 * K4, 0);
            r.link(0, c.local(), src.pfns(), Prot.READ);
            r.link(2 * K4, c.local(), new long[] {dst.firstPfn()}, Prot.RW);
            r.link(3 * K4, c.local(), new long[] {dst.firstPfn() + 1}, Prot.READ);
            r.sync();
            c.expectError("a copy whose second destination page is read-only", ErrorCode.EFAULT,
                    () -> d.copy(c.local(), r.address(2 * K4), r.address(0), 2 * K4));
            c.expectOneFault(c.local(), FaultReason.PROT);
            c.expect(Arrays.equals(dst.read(0, (int) (2 * K4)), new byte[(int) (2 * K4)]),
                    "a refused copy wrote bytes");
        } else if (c.count() > 1) {
            UalDevice p = c.on(c.other());
            DeviceMemory dst = c.mem(c.other(), 2 * K4, 0);
            d.grant(c.local(), c.other(), src.firstPfn(), 1, Prot.READ); // page 1 not granted
            c.expectError("a copy whose second source page is not granted", ErrorCode.EACCES,
                    () -> p.copy(c.other(), dst.physical(0), src.physical(0), 2 * K4));
            c.expectOneFault(c.other(), FaultReason.NO_GRANT);
            c.expect(Arrays.equals(dst.read(0, (int) (2 * K4)), new byte[(int) (2 * K4)]),
                    "a refused copy wrote bytes");
        } else {
            throw c.skip("needs virtual mode or a second accelerator to set up a refused request");
        }
    }

    // ---- fault ring -------------------------------------------------------------------------------------------

    /** Makes {@code n} faults at distinct addresses on the local accelerator; returns the addresses. */
    private static List<FabricAddress> makeFaults(CheckContext c, int n) {
        UalDevice d = c.dev();
        List<FabricAddress> addrs = new ArrayList<>(n);
        if (c.caps().has(VIRTUAL_MODE)) {
            IovaRange r = c.range(c.local(), K64, 0);
            for (int k = 0; k < n; k++) {
                FabricAddress a = r.address((k % 1024) * 64);
                addrs.add(a);
                try {
                    d.translate(c.local(), a, Access.READ);
                    throw new CheckFailure("translating unlinked " + a + " succeeded");
                } catch (UalException e) {
                    if (e.error() != ErrorCode.EFAULT) {
                        throw e;
                    }
                }
            }
        } else {
            for (int k = 0; k < n; k++) {
                FabricAddress a = FabricAddress.physical(c.local(), c.info().memorySize() + (k % 1024) * 64L);
                addrs.add(a);
                try {
                    d.translate(c.local(), a, Access.READ);
                    throw new CheckFailure("translating " + a + " past memory succeeded");
                } catch (UalException e) {
                    if (e.error() != ErrorCode.EFAULT) {
                        throw e;
                    }
                }
            }
        }
        return addrs;
    }

    static void faultRingOrder(CheckContext c) {
        List<FabricAddress> addrs = makeFaults(c, 5);
        FaultBatch b = c.dev().readFaults(16);
        c.expectEqual("records read after 5 faults", b.faults().size(), 5);
        c.expectEqual("lost after 5 faults", b.lost(), 0L);
        long seq0 = b.faults().get(0).seq();
        for (int k = 0; k < 5; k++) {
            Fault f = b.faults().get(k);
            c.expectEqual("address of record " + k, f.address(), addrs.get(k));
            c.expectEqual("seq of record " + k, f.seq(), seq0 + k);
        }
        FaultBatch again = c.dev().readFaults(16);
        c.expect(again.faults().isEmpty() && again.lost() == 0, "a second read returned %s", again);
        List<FabricAddress> more = makeFaults(c, 3);
        FaultBatch two = c.dev().readFaults(2);
        FaultBatch one = c.dev().readFaults(2);
        c.expect(two.faults().size() == 2 && one.faults().size() == 1, "reads of 2 then 2 after 3 faults gave %d "
                + "and %d", two.faults().size(), one.faults().size());
        c.expectEqual("seq continues across reads", one.faults().get(0).seq(), two.faults().get(0).seq() + 2);
        c.expectEqual("seq continues after the earlier batch", two.faults().get(0).seq(), seq0 + 5);
        c.expectEqual("address of the last record", one.faults().get(0).address(), more.get(2));
    }

    static void faultRingOverflow(CheckContext c) {
        final int n = 8192;
        makeFaults(c, n);
        FaultBatch all = CheckContext.drainFaults(c.dev());
        if (all.lost() == 0) {
            c.expectEqual("records after " + n + " faults without loss", all.faults().size(), n);
            throw c.skip("the fault ring holds all " + n + " faults; overflow not exercised");
        }
        c.expectEqual("records read + lost", all.faults().size() + all.lost(), (long) n);
        List<Fault> f = all.faults();
        for (int k = 1; k < f.size(); k++) {
            c.expectEqual("seq of record " + k + " of the overflowed ring", f.get(k).seq(), f.get(k - 1).seq() + 1);
        }
        FaultBatch after = c.dev().readFaults(4);
        c.expect(after.faults().isEmpty() && after.lost() == 0, "lost did not reset after it was read: %s", after);
        makeFaults(c, 1);
        FaultBatch one = c.dev().readFaults(4);
        c.expect(one.faults().size() == 1 && one.lost() == 0, "one fault after the overflow read as %s", one);
    }

    // ---- bad inputs -------------------------------------------------------------------------------------------

    /** Runs bad-input cases, each expected to fail with its code and leave the state of {@code accels} unchanged. */
    private static void badCase(CheckContext c, int[] accels, String what, ErrorCode code, CheckContext.Action a) {
        List<CheckContext.State> before = c.state(accels);
        c.expectError(what, code, a);
        c.expectUnchanged(before, what);
    }

    private static int[] all(CheckContext c) {
        return c.count() > 1 ? new int[] {c.local(), c.other()} : new int[] {c.local()};
    }

    static void badInputsMemory(CheckContext c) {
        UalDevice d = c.dev();
        int[] s = all(c);
        long memSize = c.info().memorySize();
        DeviceMemory m = c.mem(c.local(), 2 * K4, 0);
        badCase(c, s, "mem_alloc of 0 bytes", ErrorCode.EINVAL, () -> d.allocMemory(0, 0));
        badCase(c, s, "mem_alloc of 100 bytes", ErrorCode.EINVAL, () -> d.allocMemory(100, 0));
        badCase(c, s, "mem_alloc aligned to 3 pages", ErrorCode.EINVAL, () -> d.allocMemory(K4, 3 * K4));
        badCase(c, s, "mem_alloc aligned to 2 KiB", ErrorCode.EINVAL, () -> d.allocMemory(K4, 2048));
        badCase(c, s, "mem_alloc of more than the memory", ErrorCode.ENOMEM, () -> d.allocMemory(memSize + K4, 0));
        if (c.caps().has(CPU_MEMORY_ACCESS)) {
            badCase(c, s, "mem_read past device memory", ErrorCode.ERANGE, () -> d.readMemory(memSize, 1));
            badCase(c, s, "mem_write running past device memory", ErrorCode.ERANGE,
                    () -> d.writeMemory(memSize - 1, new byte[2]));
            badCase(c, s, "mem_write whose range wraps", ErrorCode.EOVERFLOW, () -> d.writeMemory(-8, new byte[16]));
        }
        if (c.caps().has(HOST_REGISTRATION)) {
            badCase(c, s, "registering 0 bytes", ErrorCode.EINVAL, () -> d.allocateHostBuffer(0));
        }
        if (c.caps().has(PHYSICAL_MODE)) {
            long pfn = m.firstPfn();
            m.close();
            badCase(c, s, "map_pfns of a freed block's PFN", ErrorCode.ENOENT,
                    () -> d.mapPfns(c.local(), new long[] {pfn}, Prot.READ));
        }
    }

    static void badInputsGrants(CheckContext c) {
        UalDevice d = c.dev();
        int[] s = all(c);
        int t = c.local(), i = c.other();
        long pages = c.info().memorySize() / K4;
        DeviceMemory m = c.mem(t, 8 * K4, 0);
        long p = m.firstPfn();
        d.grant(t, i, p, 4, Prot.RW);
        badCase(c, s, "grant of another accelerator's pages", ErrorCode.EPERM, () -> d.grant(i, t, 0, 1, Prot.READ));
        badCase(c, s, "revoke on another accelerator's pages", ErrorCode.EPERM, () -> d.revoke(i, t, 0, 1));
        if (c.count() < 1024) {
            badCase(c, s, "grant to an unknown initiator", ErrorCode.ENODEV,
                    () -> d.grant(t, c.count(), p + 4, 1, Prot.READ));
        }
        badCase(c, s, "grant of 0 pages", ErrorCode.EINVAL, () -> d.grant(t, i, p + 4, 0, Prot.READ));
        badCase(c, s, "grant with prot 0", ErrorCode.EINVAL, () -> d.grant(t, i, p + 4, 1, 0));
        badCase(c, s, "grant with prot 4", ErrorCode.EINVAL, () -> d.grant(t, i, p + 4, 1, 4));
        badCase(c, s, "grant running past memory", ErrorCode.ERANGE, () -> d.grant(t, i, pages - 1, 2, Prot.READ));
        badCase(c, s, "grant whose range wraps", ErrorCode.EOVERFLOW, () -> d.grant(t, i, -1L, 2, Prot.READ));
        badCase(c, s, "grant overlapping a grant", ErrorCode.EEXIST, () -> d.grant(t, i, p + 3, 2, Prot.READ));
        badCase(c, s, "revoke of pages never granted", ErrorCode.ENOENT, () -> d.revoke(t, i, p + 5, 1));
        badCase(c, s, "revoke partly granted", ErrorCode.ENOENT, () -> d.revoke(t, i, p + 3, 2));
        badCase(c, s, "revoke of 0 pages", ErrorCode.EINVAL, () -> d.revoke(t, i, p, 0));
        badCase(c, s, "revoke whose range wraps", ErrorCode.EOVERFLOW, () -> d.revoke(t, i, -1L, 2));
    }

    static void badInputsPhysical(CheckContext c) {
        UalDevice d = c.dev();
        int[] s = all(c);
        long pages = c.info().memorySize() / K4;
        DeviceMemory m = c.mem(c.local(), K4, 0);
        if (c.count() < 1024) {
            badCase(c, s, "map_pfns of an unknown target", ErrorCode.ENODEV,
                    () -> d.mapPfns(c.count(), m.pfns(), Prot.READ));
        }
        badCase(c, s, "map_pfns of no PFN", ErrorCode.EINVAL, () -> d.mapPfns(c.local(), new long[0], Prot.READ));
        badCase(c, s, "map_pfns with prot 0", ErrorCode.EINVAL, () -> d.mapPfns(c.local(), m.pfns(), 0));
        badCase(c, s, "map_pfns with prot 8", ErrorCode.EINVAL, () -> d.mapPfns(c.local(), m.pfns(), 8));
        badCase(c, s, "map_pfns of a PFN outside memory", ErrorCode.ERANGE,
                () -> d.mapPfns(c.local(), new long[] {m.firstPfn(), pages}, Prot.READ));
        long unallocated = findUnallocated(c, m);
        if (unallocated >= 0) {
            badCase(c, s, "map_pfns of an unallocated PFN", ErrorCode.ENOENT,
                    () -> d.mapPfns(c.local(), new long[] {unallocated}, Prot.READ));
        }
        if (c.caps().has(HOST_REGISTRATION)) {
            badCase(c, s, "map_pfns of an unregistered host-aperture PFN", ErrorCode.ENOENT,
                    () -> d.mapPfns(c.local(), new long[] {(CheckContext.HOST_BASE >>> 12) + (1L << 40)}, Prot.READ));
        }
    }

    /** A PFN of the local memory that was allocated and freed again (so not allocated), or -1. */
    private static long findUnallocated(CheckContext c, DeviceMemory keep) {
        try (DeviceMemory tmp = c.dev().allocMemory(K4, 0)) {
            return tmp.firstPfn() == keep.firstPfn() ? -1 : tmp.firstPfn();
        } catch (UalException e) {
            if (e.error() == ErrorCode.ENOMEM) {
                return -1; // all memory is in use: no free PFN to try
            }
            throw e;
        }
    }

    static void badInputsVirtual(CheckContext c) {
        UalDevice d = c.dev();
        int[] s = all(c);
        int l = c.local();
        long pages = c.info().memorySize() / K4;
        long wrap = -K4;
        DeviceMemory m = c.mem(l, 4 * K4, 0);
        long p = m.firstPfn();
        IovaRange r = c.range(l, 8 * K4, 0);
        r.link(0, l, new long[] {p, p + 1}, Prot.RW);
        r.sync();
        long[] one = {p + 2};
        badCase(c, s, "iova_alloc of 0 bytes", ErrorCode.EINVAL, () -> d.allocIova(0, 0));
        badCase(c, s, "iova_alloc of 4097 bytes", ErrorCode.EINVAL, () -> d.allocIova(K4 + 1, 0));
        badCase(c, s, "iova_alloc with unknown flags", ErrorCode.EINVAL, () -> d.allocIova(K4, 0x80));
        badCase(c, s, "link of no PFN", ErrorCode.EINVAL, () -> r.link(4 * K4, l, new long[0], Prot.RW));
        badCase(c, s, "link at an unaligned offset", ErrorCode.EINVAL, () -> r.link(4 * K4 + 8, l, one, Prot.RW));
        badCase(c, s, "link with prot 0", ErrorCode.EINVAL, () -> r.link(4 * K4, l, one, 0));
        badCase(c, s, "link with prot 4", ErrorCode.EINVAL, () -> r.link(4 * K4, l, one, 4));
        badCase(c, s, "link past the range", ErrorCode.ERANGE, () -> r.link(8 * K4, l, one, Prot.RW));
        badCase(c, s, "link running past the range", ErrorCode.ERANGE,
                () -> r.link(7 * K4, l, new long[] {p + 2, p + 3}, Prot.RW));
        badCase(c, s, "link of a PFN outside memory", ErrorCode.ERANGE, () -> r.link(4 * K4, l, new long[] {pages},
                Prot.RW));
        badCase(c, s, "link with one bad PFN among good ones", ErrorCode.ERANGE,
                () -> r.link(4 * K4, l, new long[] {p + 2, pages + 7}, Prot.RW));
        badCase(c, s, "link whose offset wraps", ErrorCode.EOVERFLOW, () -> r.link(wrap, l, one, Prot.RW));
        if (c.count() < 1024) {
            badCase(c, s, "link to an unknown target", ErrorCode.ENODEV, () -> r.link(4 * K4, c.count(), one, Prot.RW));
        }
        badCase(c, s, "link over a linked page", ErrorCode.EBUSY,
                () -> r.link(K4, l, new long[] {p + 2, p + 3}, Prot.RW));
        badCase(c, s, "sync of 0 bytes", ErrorCode.EINVAL, () -> r.sync(0, 0));
        badCase(c, s, "sync of 100 bytes", ErrorCode.EINVAL, () -> r.sync(0, 100));
        badCase(c, s, "sync past the range", ErrorCode.ERANGE, () -> r.sync(8 * K4, K4));
        badCase(c, s, "sync whose end wraps", ErrorCode.EOVERFLOW, () -> r.sync(K4, wrap));
        badCase(c, s, "unlink of 0 bytes", ErrorCode.EINVAL, () -> r.unlink(0, 0));
        badCase(c, s, "unlink at an unaligned offset", ErrorCode.EINVAL, () -> r.unlink(8, K4));
        badCase(c, s, "unlink of an unlinked page", ErrorCode.ENOENT, () -> r.unlink(4 * K4, K4));
        badCase(c, s, "unlink of a partly linked part", ErrorCode.ENOENT, () -> r.unlink(K4, 2 * K4));
        badCase(c, s, "unlink past the range", ErrorCode.ERANGE, () -> r.unlink(8 * K4, K4));
        badCase(c, s, "unlink whose end wraps", ErrorCode.EOVERFLOW, () -> r.unlink(K4, wrap));
    }

    static void badInputsHardware(CheckContext c) {
        UalDevice d = c.dev();
        int[] s = all(c);
        int l = c.local();
        DeviceMemory m = c.mem(l, 2 * K4, 0);
        FabricAddress a = c.reach(l, l, m.firstPfn(), Prot.RW);
        FabricAddress b = c.reach(l, l, m.firstPfn() + 1, Prot.RW);
        badCase(c, s, "translate with access 0", ErrorCode.EINVAL, () -> d.translate(l, a, 0));
        badCase(c, s, "translate with access 3", ErrorCode.EINVAL, () -> d.translate(l, a, 3));
        if (c.count() < 1024) {
            badCase(c, s, "translate by an unknown initiator", ErrorCode.ENODEV,
                    () -> d.translate(c.count(), a, Access.READ));
            badCase(c, s, "copy by an unknown initiator", ErrorCode.ENODEV, () -> d.copy(c.count(), b, a, 64));
        }
        badCase(c, s, "copy of 0 bytes", ErrorCode.EINVAL, () -> d.copy(l, b, a, 0));
        badCase(c, s, "copy of 65 bytes", ErrorCode.EINVAL, () -> d.copy(l, b, a, 65));
        badCase(c, s, "copy from an address not 64-byte aligned", ErrorCode.EINVAL, () -> d.copy(l, b, a.plus(8), 64));
        badCase(c, s, "copy whose source wraps", ErrorCode.EOVERFLOW,
                () -> d.copy(l, b, FabricAddress.iova(-64), 128));
        badCase(c, s, "dump whose window wraps", ErrorCode.EOVERFLOW, () -> d.dump(-K4, 2 * K4));
        for (int accel : s) {
            c.expectNoFault(accel, "refused bad inputs (they record no fault)");
        }
        badCase(c, s, "opening an unknown backend", ErrorCode.ENODEV, () -> UalDevice.open("nosuchbackend:"));
    }

    // ---- handles ----------------------------------------------------------------------------------------------

    static void closeReleases(CheckContext c) {
        UalDevice d = c.dev();
        int[] s = all(c);
        c.warmDomain();
        List<CheckContext.State> before = c.state(s);
        if (c.info().memorySize() < 17 * K4) {
            throw c.skip("needs 17 pages of device memory; the accelerator has " + c.info().memorySize() + " bytes");
        }
        UalDevice victim = d.openPeer(c.local());
        try {
            DeviceMemory m = victim.allocMemory(16 * K4, 0);
            victim.allocMemory(K4, 0);
            if (c.count() > 1) {
                victim.grant(c.local(), c.other(), m.firstPfn(), 4, Prot.RW);
            }
            if (c.caps().has(VIRTUAL_MODE)) {
                IovaRange r = victim.allocIova(c.spanningRangeSize(), IovaRange.PREALLOC);
                r.link(0, c.local(), m.pfns(), Prot.RW);
                r.sync();
                IovaRange plain = victim.allocIova(16 * K4, 0);
                plain.link(0, c.local(), m.pfns(), Prot.READ);
            }
            if (c.caps().has(HOST_REGISTRATION)) {
                victim.allocateHostBuffer(2 * K4);
            }
            List<CheckContext.State> busy = c.state(s);
            c.expect(!busy.equals(before), "the second handle's objects do not show in info()");
        } finally {
            victim.close();
        }
        c.expectUnchanged(before, "closing a handle that held memory, grants, ranges, links and host buffers");
    }

    static void peers(CheckContext c) {
        int n = Math.min(c.count(), 8);
        long free0 = c.dev().info().memoryFree();
        for (int a = 0; a < n; a++) {
            UalDevice p = c.on(a);
            c.expectEqual("accelerator id of the handle for " + a, p.acceleratorId(), a);
            DeviceInfo pi = p.info();
            c.expectEqual("accelerator id of info() of " + a, pi.acceleratorId(), a);
            c.expectEqual("accelerator count seen from " + a, pi.acceleratorCount(), c.count());
            c.expectEqual("modes seen from " + a, pi.modes(), c.info().modes());
            if (a != c.local()) {
                long pf = pi.memoryFree();
                c.mem(a, K4, 0);
                c.expectEqual("memoryFree of " + a + " after allocating there", p.info().memoryFree(), pf - K4);
                c.expectEqual("memoryFree of " + c.local() + " after allocating on " + a,
                        c.dev().info().memoryFree(), free0);
            }
        }
        if (c.count() < 1024) {
            c.expectError("open_peer of accelerator " + c.count(), ErrorCode.ENODEV, () -> c.dev().openPeer(c.count()));
        }
        c.expectError("open_peer of accelerator -1", ErrorCode.ENODEV, () -> c.dev().openPeer(-1));
    }
}
