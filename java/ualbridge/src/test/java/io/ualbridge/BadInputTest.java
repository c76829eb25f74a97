package io.ualbridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import io.ualbridge.internal.UalNative;

/**
 * Every bad input fails with its exact error code (or IllegalStateException for use after close) and changes
 * nothing: the page tables of both domains and the counters are the same afterwards.
 */
class BadInputTest {
    static final long K4 = 4096, M2 = 2L << 20;
    static final String URI = "fake:?accels=2&mem=16M";
    static final long MEM_PAGES = (16L << 20) / K4;
    /** Size of the fixture's range: 4 MiB and 64 KiB, whose last 64 KiB are never linked. */
    static final long END = 2 * M2 + 16 * K4;

    /** What the cases work on. */
    static final class Fx {
        UalDevice dev;     // accelerator 0
        UalDevice peer;    // accelerator 1
        UalDevice second;  // a second handle on accelerator 0 of a named fabric (for use-after-close)
        DeviceMemory mem0; // 4 MiB of accelerator 0, 2 MiB aligned
        DeviceMemory mem1; // 64 KiB of accelerator 1
        IovaRange range;   // END bytes: 16 pages linked at 0, a 2 MiB leaf at 2 MiB
        IovaRange spare;   // unlinked 64 KiB range, closed by a case
        HostBuffer host;
    }

    interface Action {
        void run(Fx fx) throws Exception;
    }

    record Case(String name, ErrorCode expected, Action action) {
        @Override
        public String toString() {
            return name + " -> " + (expected == null ? "IllegalStateException" : expected);
        }
    }

    static Case c(String name, ErrorCode expected, Action action) {
        return new Case(name, expected, action);
    }

    static Stream<Case> cases() {
        ErrorCode EINVAL = ErrorCode.EINVAL, ERANGE = ErrorCode.ERANGE, EOVERFLOW = ErrorCode.EOVERFLOW,
                ENODEV = ErrorCode.ENODEV, ENOENT = ErrorCode.ENOENT, EBUSY = ErrorCode.EBUSY;
        long wrapOffset = -K4; // 0xffff_ffff_ffff_f000
        return Stream.of(
                // zero size
                c("iova_alloc zero size", EINVAL, fx -> fx.dev.allocIova(0, 0)),
                c("mem_alloc zero size", EINVAL, fx -> fx.dev.allocMemory(0, 0)),
                c("host buffer zero size", EINVAL, fx -> fx.dev.allocateHostBuffer(0)),
                c("link zero pages", EINVAL, fx -> fx.range.link(M2 / 2, 0, new long[0], Prot.RW)),
                c("sync zero length", EINVAL, fx -> fx.range.sync(0, 0)),
                c("unlink zero length", EINVAL, fx -> fx.range.unlink(0, 0)),
                c("grant zero pages", EINVAL, fx -> fx.peer.grant(1, 0, fx.mem1.firstPfn() + 8, 0, Prot.READ)),
                c("map_pfns no pfns", EINVAL, fx -> fx.dev.mapPfns(0, new long[0], Prot.READ)),
                c("copy zero length", EINVAL, fx -> fx.dev.copy(0, fx.mem0.physical(0), fx.mem0.physical(K4), 0)),
                // unaligned size / offset
                c("iova_alloc unaligned size", EINVAL, fx -> fx.dev.allocIova(K4 + 1, 0)),
                c("mem_alloc unaligned size", EINVAL, fx -> fx.dev.allocMemory(100, 0)),
                c("mem_alloc bad alignment", EINVAL, fx -> fx.dev.allocMemory(K4, 3 * K4)),
                c("link unaligned offset", EINVAL, fx -> fx.range.link(M2 / 2 + 8, 0, new long[] {fx.mem0.firstPfn()}, Prot.RW)),
                c("sync unaligned length", EINVAL, fx -> fx.range.sync(0, 100)),
                c("unlink unaligned offset", EINVAL, fx -> fx.range.unlink(8, K4)),
                c("unlink splitting a 2 MiB leaf", EINVAL, fx -> fx.range.unlink(M2 + K4, K4)),
                c("copy unaligned length", EINVAL, fx -> fx.dev.copy(0, fx.mem0.physical(0), fx.mem0.physical(K4), 65)),
                c("iova_alloc unknown flags", EINVAL, fx -> fx.dev.allocIova(K4, 0x80)),
                // offset past the range
                c("link past the range", ERANGE, fx -> fx.range.link(END, 0, new long[] {fx.mem0.firstPfn()}, Prot.RW)),
                c("link running past the range", ERANGE,
                        fx -> fx.range.link(END - K4, 0, new long[] {fx.mem0.firstPfn(), fx.mem0.firstPfn() + 1}, Prot.RW)),
                c("sync past the range", ERANGE, fx -> fx.range.sync(END, K4)),
                c("sync running past the range", ERANGE, fx -> fx.range.sync(END - K4, 2 * K4)),
                c("unlink past the range", ERANGE, fx -> fx.range.unlink(END, K4)),
                c("mem_read past device memory", ERANGE, fx -> fx.dev.readMemory(16L << 20, 1)),
                c("mem_write past device memory", ERANGE, fx -> fx.dev.writeMemory((16L << 20) - 1, new byte[2])),
                // overflowing ranges
                c("link offset wraps", EOVERFLOW, fx -> fx.range.link(wrapOffset, 0, new long[] {fx.mem0.firstPfn()}, Prot.RW)),
                c("sync offset+len wraps", EOVERFLOW, fx -> fx.range.sync(K4, wrapOffset)),
                c("unlink offset+len wraps", EOVERFLOW, fx -> fx.range.unlink(K4, wrapOffset)),
                c("grant range wraps", EOVERFLOW, fx -> fx.peer.grant(1, 0, -1L, 2, Prot.READ)),
                c("revoke range wraps", EOVERFLOW, fx -> fx.peer.revoke(1, 0, -1L, 2)),
                c("mem_write wraps", EOVERFLOW, fx -> fx.dev.writeMemory(-8, new byte[16])),
                c("dump window wraps", EOVERFLOW, fx -> fx.dev.dump(-K4, 2 * K4)),
                c("copy source wraps", EOVERFLOW, fx -> fx.dev.copy(0, fx.mem0.physical(0), FabricAddress.iova(-64), 128)),
                // PFN outside the target's memory
                c("link pfn outside memory", ERANGE, fx -> fx.range.link(M2 / 2, 0, new long[] {MEM_PAGES}, Prot.RW)),
                c("link one bad pfn among good", ERANGE,
                        fx -> fx.range.link(M2 / 2, 0, new long[] {fx.mem0.firstPfn(), MEM_PAGES + 7}, Prot.RW)),
                c("map_pfns pfn outside memory", ERANGE, fx -> fx.dev.mapPfns(1, new long[] {MEM_PAGES}, Prot.READ)),
                c("grant pfn outside memory", ERANGE, fx -> fx.peer.grant(1, 0, MEM_PAGES - 1, 2, Prot.READ)),
                // unknown accelerator id
                c("link unknown target", ENODEV, fx -> fx.range.link(M2 / 2, 7, new long[] {fx.mem0.firstPfn()}, Prot.RW)),
                c("map_pfns unknown target", ENODEV, fx -> fx.dev.mapPfns(7, new long[] {0}, Prot.READ)),
                c("grant unknown initiator", ENODEV, fx -> fx.peer.grant(1, 7, fx.mem1.firstPfn() + 8, 1, Prot.READ)),
                c("translate unknown initiator", ENODEV,
                        fx -> fx.dev.translate(7, FabricAddress.iova(fx.range.iova()), Access.READ)),
                c("copy unknown initiator", ENODEV, fx -> fx.dev.copy(7, fx.mem0.physical(0), fx.mem0.physical(K4), 64)),
                c("open_peer unknown accelerator", ENODEV, fx -> fx.dev.openPeer(2)),
                c("grant of another accelerator's pages", ErrorCode.EPERM, fx -> fx.dev.grant(1, 0, 0, 1, Prot.READ)),
                // double free
                c("mem_free twice", ENOENT, fx -> {
                    DeviceMemory m = fx.dev.allocMemory(K4, 0);
                    long p = m.firstPfn();
                    m.close();
                    fx.dev.freeMemory(p, K4);
                }),
                c("mem_free wrong size", EINVAL, fx -> fx.dev.freeMemory(fx.mem0.firstPfn(), K4)),
                c("iova_free twice", ENOENT, fx -> {
                    long iova = fx.spare.iova();
                    fx.spare.close();
                    raw("iova_free", UalNative.ual_iova_free(fx.dev.handle(), iova));
                }),
                c("iova_free of a linked range", EBUSY, fx -> raw("iova_free", UalNative.ual_iova_free(fx.dev.handle(), fx.range.iova()))),
                c("revoke of pages never granted", ENOENT, fx -> fx.peer.revoke(1, 0, fx.mem1.firstPfn() + 4, 1)),
                c("revoke twice", ENOENT, fx -> {
                    fx.peer.grant(1, 0, fx.mem1.firstPfn() + 8, 2, Prot.READ);
                    fx.peer.revoke(1, 0, fx.mem1.firstPfn() + 8, 2);
                    fx.peer.revoke(1, 0, fx.mem1.firstPfn() + 8, 2);
                }),
                c("revoke partly granted", ENOENT, fx -> fx.peer.revoke(1, 0, fx.mem1.firstPfn() + 3, 2)),
                c("unregister of an address never registered", ENOENT, fx -> raw("mem_unregister",
                        UalNative.ual_mem_unregister(fx.dev.handle(), java.lang.foreign.MemorySegment.ofAddress(
                                fx.host.segment().address() + K4)))),
                // link over a linked page
                c("link over a linked page", EBUSY, fx -> fx.range.link(15 * K4, 0, new long[] {fx.mem0.firstPfn(), fx.mem0.firstPfn() + 1}, Prot.RW)),
                c("link over a 2 MiB leaf", EBUSY, fx -> fx.range.link(M2 + 100 * K4, 0, new long[] {fx.mem0.firstPfn()}, Prot.RW)),
                c("grant overlapping", ErrorCode.EEXIST, fx -> fx.peer.grant(1, 0, fx.mem1.firstPfn() + 3, 2, Prot.READ)),
                // unlink of what is not linked
                c("unlink of an unlinked page", ENOENT, fx -> fx.range.unlink(M2 / 2, K4)),
                c("unlink partly linked", ENOENT, fx -> fx.range.unlink(15 * K4, 2 * K4)),
                c("unlink in a freed range", ENOENT, fx -> {
                    long iova = fx.spare.iova();
                    fx.spare.close();
                    raw("iova_unlink", UalNative.ual_iova_unlink(fx.dev.handle(), iova, 0, K4));
                }),
                // bad prot / access
                c("link prot 0", EINVAL, fx -> fx.range.link(M2 / 2, 0, new long[] {fx.mem0.firstPfn()}, 0)),
                c("link prot 4", EINVAL, fx -> fx.range.link(M2 / 2, 0, new long[] {fx.mem0.firstPfn()}, 4)),
                c("grant prot 0", EINVAL, fx -> fx.peer.grant(1, 0, fx.mem1.firstPfn() + 8, 1, 0)),
                c("map_pfns prot 8", EINVAL, fx -> fx.dev.mapPfns(0, new long[] {fx.mem0.firstPfn()}, 8)),
                c("translate access 3", EINVAL, fx -> fx.dev.translate(0, fx.mem0.physical(0), 3)),
                c("translate access 0", EINVAL, fx -> fx.dev.translate(0, fx.mem0.physical(0), 0)),
                // use after close
                c("link after range close", null, fx -> {
                    fx.spare.close();
                    fx.spare.link(0, 0, new long[] {fx.mem0.firstPfn()}, Prot.RW);
                }),
                c("write after memory close", null, fx -> {
                    DeviceMemory m = fx.dev.allocMemory(K4, 0);
                    m.close();
                    m.write(0, new byte[1]);
                }),
                c("pfns after host buffer close", null, fx -> {
                    HostBuffer h = fx.dev.allocateHostBuffer(K4);
                    h.close();
                    h.pfns();
                }),
                c("device use after close", null, fx -> {
                    fx.second.close();
                    fx.second.allocIova(K4, 0);
                }),
                c("translate after close", null, fx -> {
                    fx.second.close();
                    fx.second.translate(0, FabricAddress.iova(fx.range.iova()), Access.READ);
                }),
                c("range of a closed device", null, fx -> {
                    IovaRange r = fx.second.allocIova(K4, 0);
                    fx.second.close();
                    r.sync();
                }));
    }

    static void raw(String op, int rc) {
        Native.check(rc, op);
    }

    Fx fx;

    @BeforeEach
    void setUp() {
        fx = new Fx();
        String name = "fake:badinput-" + System.nanoTime() + "?accels=2&mem=16M";
        fx.dev = UalDevice.open(name);
        fx.second = UalDevice.open(name);
        fx.peer = fx.dev.openPeer(1);
        fx.mem0 = fx.dev.allocMemory(2 * M2, M2);
        fx.mem1 = fx.peer.allocMemory(16 * K4, 0);
        fx.range = fx.dev.allocIova(END, 0);
        long[] pfns = fx.mem0.pfns();
        fx.range.link(0, 0, Arrays.copyOfRange(pfns, 600, 616), Prot.RW);
        fx.range.link(M2, 0, Arrays.copyOfRange(pfns, 0, 512), Prot.READ);
        fx.range.sync();
        fx.spare = fx.dev.allocIova(16 * K4, 0);
        fx.peer.grant(1, 0, fx.mem1.firstPfn(), 4, Prot.RW);
        fx.host = fx.dev.allocateHostBuffer(2 * K4);
    }

    @AfterEach
    void tearDown() {
        fx.second.close();
        fx.peer.close();
        fx.dev.close();
    }

    record Snapshot(List<Mapping> dump0, List<Mapping> dump1, List<Long> counters0, List<Long> counters1) {
    }

    Snapshot snapshot() {
        return new Snapshot(fx.dev.dump(), fx.peer.dump(), counters(fx.dev.info()), counters(fx.peer.info()));
    }

    static List<Long> counters(DeviceInfo i) {
        return new ArrayList<>(List.of(i.ptPoolFree(), i.mappedPages(), i.iovaRanges(), i.grants(), i.memoryFree()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void failsExactlyAndChangesNothing(Case c) {
        // cases that close the spare range or create and drop objects first: take the baseline after that part
        Snapshot before = snapshotAfterPreparation(c);
        Throwable t = catchThrowable(() -> c.action().run(fx));
        if (c.expected() == null) {
            assertThat(t).as(c.name()).isInstanceOf(IllegalStateException.class);
        } else {
            assertThat(t).as(c.name()).isInstanceOf(UalException.class);
            UalException e = (UalException) t;
            assertThat(e.error()).as(c.name() + ": " + e.getMessage()).isEqualTo(c.expected());
            assertThat(e.detail()).as("ual_last_error of " + c.name()).isNotEmpty();
        }
        Snapshot after = snapshot();
        assertThat(after.dump0()).as("domain 0 after " + c.name()).isEqualTo(before.dump0());
        assertThat(after.dump1()).as("domain 1 after " + c.name()).isEqualTo(before.dump1());
        assertThat(after.counters0()).as("counters of 0 after " + c.name()).isEqualTo(before.counters0());
        assertThat(after.counters1()).as("counters of 1 after " + c.name()).isEqualTo(before.counters1());
    }

    /**
     * Some cases free or create something legitimately before the failing call; their baseline is computed by
     * the state they reach just before it.
     */
    private Snapshot snapshotAfterPreparation(Case c) {
        Snapshot s = snapshot();
        return switch (c.name()) {
            case "iova_free twice", "unlink in a freed range", "link after range close" -> {
                List<Long> c0 = counters(fx.dev.info());
                c0.set(2, c0.get(2) - 1); // one range fewer
                yield new Snapshot(s.dump0(), s.dump1(), c0, s.counters1());
            }
            default -> s;
        };
    }
}
