package io.ualbridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.LongStream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The public API against the fake backend, one feature at a time. */
class DeviceApiTest {
    static final long K4 = 4096, K64 = 64 * 1024, M2 = 2 * 1024 * 1024;
    static final long HOST_BASE = 1L << 56;

    UalDevice dev;

    @BeforeEach
    void open() {
        dev = UalDevice.open("fake:");
    }

    @AfterEach
    void close() {
        dev.close();
    }

    static long[] range(long first, int n) {
        return LongStream.range(first, first + n).toArray();
    }

    static byte[] randomBytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static ErrorCode errorOf(Runnable r) {
        try {
            r.run();
        } catch (UalException e) {
            return e.error();
        }
        throw new AssertionError("expected a UalException");
    }

    // ---- info -------------------------------------------------------------------------------------------------

    @Test
    void infoDescribesTheFakeFabric() {
        DeviceInfo info = dev.info();
        assertThat(info.abiVersion() >>> 16).isEqualTo(1);
        assertThat(Ual.abiVersion()).isEqualTo(info.abiVersion());
        assertThat(info.acceleratorId()).isZero().isBetween(0, 1023);
        assertThat(dev.acceleratorId()).isZero();
        assertThat(info.acceleratorCount()).isEqualTo(4);
        assertThat(info.physBits()).isEqualTo(57);
        assertThat(info.dmaBits()).isEqualTo(48);
        assertThat(info.pageTableLevels()).isEqualTo(4);
        assertThat(info.pageSizes()).containsExactly(K4, K64, M2);
        assertThat(info.supportsPhysical()).isTrue();
        assertThat(info.supportsVirtual()).isTrue();
        assertThat(info.backend()).isEqualTo("fake");
        assertThat(info.requestMin()).isEqualTo(64);
        assertThat(info.requestMax()).isEqualTo(256);
        assertThat(info.memorySize()).isEqualTo(64L << 20);
        assertThat(info.memoryFree()).isEqualTo(64L << 20);
        assertThat(info.ptPoolPages()).isEqualTo(4096);
        assertThat(info.tlbEntries()).isEqualTo(512);
        assertThat(info.iovaRanges()).isZero();
        assertThat(info.mappedPages()).isZero();
        assertThat(info.grants()).isZero();
        assertThat(dev.uri()).isEqualTo("fake:");
        assertThat(dev.isOpen()).isTrue();
    }

    @Test
    void uriOptionsAreHonoured() {
        try (UalDevice d = UalDevice.open("fake:?accels=8&local=5&mem=16M&dma_bits=39&tlb=64&mode=virtual")) {
            DeviceInfo info = d.info();
            assertThat(d.acceleratorId()).isEqualTo(5);
            assertThat(info.acceleratorId()).isEqualTo(5);
            assertThat(info.acceleratorCount()).isEqualTo(8);
            assertThat(info.memorySize()).isEqualTo(16L << 20);
            assertThat(info.dmaBits()).isEqualTo(39);
            assertThat(info.pageTableLevels()).isEqualTo(3);
            assertThat(info.tlbEntries()).isEqualTo(64);
            assertThat(info.supportsPhysical()).isFalse();
            assertThat(info.supportsVirtual()).isTrue();
        }
    }

    @Test
    void badUrisAreRefused() {
        assertThat(errorOf(() -> UalDevice.open("nope:"))).isEqualTo(ErrorCode.ENODEV);
        assertThat(errorOf(() -> UalDevice.open("fake:?accels=0"))).isEqualTo(ErrorCode.EINVAL);
        assertThat(errorOf(() -> UalDevice.open("fake:?bogus=1"))).isEqualTo(ErrorCode.EINVAL);
        assertThat(errorOf(() -> UalDevice.open("fake:?accels=2&local=2"))).isEqualTo(ErrorCode.ENODEV);
        UalException e = (UalException) org.assertj.core.api.Assertions.catchThrowable(
                () -> UalDevice.open("fake:?tlb=3"));
        assertThat(e.operation()).isEqualTo("open");
        assertThat(e.getMessage()).startsWith("open: ").contains("(EINVAL)");
        assertThat(e.detail()).isNotEmpty();
    }

    // ---- memory -----------------------------------------------------------------------------------------------

    @Test
    void memoryAllocReadWrite() {
        try (DeviceMemory m = dev.allocMemory(64 * K4, 0)) {
            assertThat(m.size()).isEqualTo(64 * K4);
            assertThat(m.pageCount()).isEqualTo(64);
            assertThat(m.physAddress()).isEqualTo(m.firstPfn() << 12);
            assertThat(m.pfns()).containsExactly(range(m.firstPfn(), 64));
            assertThat(m.pfnSegment().toArray(ValueLayout.JAVA_LONG)).containsExactly(range(m.firstPfn(), 64));
            assertThat(dev.info().memoryFree()).isEqualTo((64L << 20) - 64 * K4);
            assertThat(m.read(0, 8192)).containsOnly(0);

            byte[] data = randomBytes(10_000, 1);
            m.write(100, data);
            assertThat(m.read(100, data.length)).isEqualTo(data);
            assertThat(dev.readMemory(m.physAddress() + 100, data.length)).isEqualTo(data);

            try (Arena a = Arena.ofConfined()) {
                MemorySegment native_ = a.allocate(300);
                native_.fill((byte) 7);
                dev.writeMemory(m.physAddress() + 5000, native_);
                MemorySegment back = a.allocate(300);
                dev.readMemory(m.physAddress() + 5000, back);
                assertThat(back.toArray(ValueLayout.JAVA_BYTE)).containsOnly(7);
            }
            assertThat(m.physical(K4 + 8)).isEqualTo(FabricAddress.physical(0, m.physAddress() + K4 + 8));
            assertThatThrownBy(() -> m.write(64 * K4 - 1, new byte[2])).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> m.physical(64 * K4)).isInstanceOf(IndexOutOfBoundsException.class);
        }
        assertThat(dev.info().memoryFree()).isEqualTo(64L << 20);
    }

    @Test
    void memoryAlignmentAndExhaustion() {
        try (DeviceMemory small = dev.allocMemory(K4, 0); DeviceMemory big = dev.allocMemory(M2, M2)) {
            assertThat(big.physAddress() % M2).isZero();
            assertThat(small.firstPfn()).isNotEqualTo(big.firstPfn());
            assertThat(errorOf(() -> dev.allocMemory(64L << 20, 0))).isEqualTo(ErrorCode.ENOMEM);
            assertThat(errorOf(() -> dev.allocMemory(K4, 3000))).isEqualTo(ErrorCode.EINVAL);
        }
    }

    @Test
    void memoryReadWriteOutsideDeviceMemory() {
        assertThat(errorOf(() -> dev.readMemory(64L << 20, 1))).isEqualTo(ErrorCode.ERANGE);
        assertThat(errorOf(() -> dev.writeMemory((64L << 20) - 1, new byte[2]))).isEqualTo(ErrorCode.ERANGE);
        assertThat(errorOf(() -> dev.writeMemory(-8, new byte[16]))).isEqualTo(ErrorCode.EOVERFLOW);
        dev.writeMemory(0, new byte[0]);
    }

    // ---- host buffers -----------------------------------------------------------------------------------------

    @Test
    void hostBufferAllocatedAndRegistered() {
        try (HostBuffer hb = dev.allocateHostBuffer(4 * K4)) {
            assertThat(hb.size()).isEqualTo(4 * K4);
            assertThat(hb.accelerator()).isZero();
            assertThat(hb.segment().address() % K4).isZero();
            long[] pfns = hb.pfns();
            assertThat(pfns).hasSize(4);
            assertThat(Arrays.stream(pfns).min().getAsLong()).isGreaterThanOrEqualTo(HOST_BASE >>> 12);
            assertThat(pfns).containsExactly(range(pfns[0], 4)); // the fake hands out contiguous PFNs
            assertThat(hb.pfnSegment().toArray(ValueLayout.JAVA_LONG)).containsExactly(pfns);
            assertThat(hb.physical(K4 + 12)).isEqualTo(FabricAddress.physical(0, (pfns[1] << 12) + 12));
            // host PFNs are mappable like device memory
            FabricAddress[] fa = dev.mapPfns(0, pfns, Prot.RW);
            assertThat(fa[3]).isEqualTo(FabricAddress.physical(0, pfns[3] << 12));
        }
    }

    @Test
    void hostBufferOfCallerMemory() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(8 * K4, K4);
            try (HostBuffer hb = dev.register(seg)) {
                assertThat(hb.segment()).isEqualTo(seg);
                assertThat(hb.pfns()).hasSize(8);
                // overlapping registration is refused
                assertThat(errorOf(() -> dev.register(seg.asSlice(K4, K4)))).isEqualTo(ErrorCode.EEXIST);
            }
            // unregistered: the same memory can be registered again
            try (HostBuffer again = dev.register(seg)) {
                assertThat(again.pfns()).hasSize(8);
            }
            assertThat(errorOf(() -> dev.register(seg.asSlice(1, K4)))).isEqualTo(ErrorCode.EINVAL);
            assertThat(errorOf(() -> dev.register(seg.asSlice(0, 100)))).isEqualTo(ErrorCode.EINVAL);
            assertThat(errorOf(() -> dev.register(seg.asSlice(0, 0)))).isEqualTo(ErrorCode.EINVAL);
        }
        assertThatThrownBy(() -> dev.register(MemorySegment.ofArray(new byte[4096])))
                .isInstanceOf(IllegalArgumentException.class);
    }

    // ---- physical mode ----------------------------------------------------------------------------------------

    @Test
    void mapPfnsGivesRoutedAddresses() {
        try (UalDevice peer = dev.openPeer(3); DeviceMemory m = peer.allocMemory(16 * K4, 0)) {
            long[] pfns = m.pfns();
            FabricAddress[] fa = dev.mapPfns(3, pfns, Prot.READ);
            assertThat(fa).hasSize(16);
            for (int i = 0; i < fa.length; i++) {
                assertThat(fa[i].routed()).isTrue();
                assertThat(fa[i].target()).isEqualTo(3);
                assertThat(fa[i].address()).isEqualTo(pfns[i] << 12);
                assertThat(fa[i].routeWord()).isEqualTo(0x8000_0000 | 3);
            }
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = a.allocate(16L * 16);
                dev.mapPfns(3, m.pfnSegment(), 16, Prot.RW, out);
                for (int i = 0; i < 16; i++) {
                    assertThat(out.get(ValueLayout.JAVA_LONG, i * 16L)).isEqualTo(pfns[i] << 12);
                    assertThat(out.get(ValueLayout.JAVA_INT, i * 16L + 8)).isEqualTo(0x8000_0003);
                    assertThat(out.get(ValueLayout.JAVA_INT, i * 16L + 12)).isZero();
                }
                assertThatThrownBy(() -> dev.mapPfns(3, m.pfnSegment(), 17, Prot.RW, out))
                        .isInstanceOf(IndexOutOfBoundsException.class);
            }
            // PFN not allocated
            assertThat(errorOf(() -> dev.mapPfns(3, new long[] {pfns[15] + 1}, Prot.READ))).isEqualTo(ErrorCode.ENOENT);
        }
    }

    @Test
    void physicalModeNeedsGrantsAcrossAccelerators() {
        try (UalDevice peer = dev.openPeer(1); DeviceMemory m = peer.allocMemory(4 * K4, 0)) {
            FabricAddress a = m.physical(0);
            // local requests need no grant
            Translation local = dev.translate(1, a, Access.WRITE);
            assertThat(local.target()).isEqualTo(1);
            assertThat(local.phys()).isEqualTo(m.physAddress());
            assertThat(local.pageSize()).isEqualTo(K4);
            // initiator 0 is refused until granted
            assertThat(errorOf(() -> dev.translate(0, a, Access.READ))).isEqualTo(ErrorCode.EACCES);
            peer.grant(1, 0, m.firstPfn(), 2, Prot.READ);
            assertThat(peer.info().grants()).isEqualTo(1);
            Translation t = dev.translate(0, a.plus(K4 + 64), Access.READ);
            assertThat(t.target()).isEqualTo(1);
            assertThat(t.phys()).isEqualTo(m.physAddress() + K4 + 64);
            assertThat(t.prot()).isEqualTo(Prot.READ);
            assertThat(errorOf(() -> dev.translate(0, a, Access.WRITE))).isEqualTo(ErrorCode.EACCES);
            assertThat(errorOf(() -> dev.translate(0, a.plus(2 * K4), Access.READ))).isEqualTo(ErrorCode.EACCES);
            // overlapping grant to the same initiator
            assertThat(errorOf(() -> peer.grant(1, 0, m.firstPfn() + 1, 2, Prot.RW))).isEqualTo(ErrorCode.EEXIST);
            // a grant of another accelerator's pages
            assertThat(errorOf(() -> dev.grant(1, 0, m.firstPfn(), 1, Prot.READ))).isEqualTo(ErrorCode.EPERM);
            // revoking the first page splits the grant
            peer.revoke(1, 0, m.firstPfn(), 1);
            assertThat(errorOf(() -> dev.translate(0, a, Access.READ))).isEqualTo(ErrorCode.EACCES);
            assertThat(dev.translate(0, a.plus(K4), Access.READ).phys()).isEqualTo(m.physAddress() + K4);
            assertThat(errorOf(() -> peer.revoke(1, 0, m.firstPfn(), 2))).isEqualTo(ErrorCode.ENOENT);
            peer.revoke(1, 0, m.firstPfn() + 1, 1);
            assertThat(peer.info().grants()).isZero();
            assertThat(errorOf(() -> dev.translate(0, a.plus(K4), Access.READ))).isEqualTo(ErrorCode.EACCES);
        }
    }

    // ---- virtual mode -----------------------------------------------------------------------------------------

    @Test
    void virtualModeLifecycleAndLeafSizes() {
        ReclaimSafetyTest.createRoot(dev); // the root table lives as long as the domain
        DeviceInfo before = dev.info();
        try (DeviceMemory m = dev.allocMemory(4 * M2, M2); IovaRange r = dev.allocIova(4 * M2, 0)) {
            assertThat(r.iova()).isNotZero();
            assertThat(r.iova() % M2).isZero();
            assertThat(r.size()).isEqualTo(4 * M2);
            assertThat(dev.info().iovaRanges()).isEqualTo(before.iovaRanges() + 1);

            long[] pfns = m.pfns();
            // a 2 MiB aligned, contiguous run of 512 -> one 2 MiB leaf
            r.link(0, 0, Arrays.copyOfRange(pfns, 0, 512), Prot.RW);
            // 16 aligned contiguous -> one 64 KiB leaf
            r.link(M2, 0, Arrays.copyOfRange(pfns, 512, 528), Prot.READ);
            // 3 scattered pages -> 4 KiB leaves
            r.link(M2 + K64, 0, new long[] {pfns[700], pfns[650], pfns[900]}, Prot.RW);
            // a contiguous run that is not 2 MiB aligned in PFN space -> no 2 MiB leaf
            r.link(2 * M2, 0, Arrays.copyOfRange(pfns, 1, 513), Prot.RW);
            r.sync();
            assertThat(dev.info().mappedPages()).isEqualTo(512 + 16 + 3 + 512);

            List<Mapping> maps = r.dump();
            assertThat(maps.get(0)).isEqualTo(new Mapping(r.iova(), pfns[0] << 12, M2, 0, 2, Prot.RW));
            assertThat(maps.get(1)).isEqualTo(new Mapping(r.iova() + M2, pfns[512] << 12, K64, 0, 1, Prot.READ));
            assertThat(maps.get(2)).isEqualTo(new Mapping(r.iova() + M2 + K64, pfns[700] << 12, K4, 0, 1, Prot.RW));
            assertThat(maps.get(3).phys()).isEqualTo(pfns[650] << 12);
            assertThat(maps.get(4).phys()).isEqualTo(pfns[900] << 12);
            List<Mapping> tail = maps.subList(5, maps.size());
            assertThat(tail).allSatisfy(mp -> assertThat(mp.size()).isLessThan(M2));
            assertThat(tail.stream().mapToLong(Mapping::size).sum()).isEqualTo(512 * K4);
            assertThat(dev.dump()).isEqualTo(maps);
            assertThat(dev.dump(r.iova() + M2, M2)).hasSize(4);

            Translation t = dev.translate(0, r.address(M2 - 64), Access.WRITE);
            assertThat(t.phys()).isEqualTo((pfns[0] << 12) + M2 - 64);
            assertThat(t.pageSize()).isEqualTo(M2);
            assertThat(t.target()).isZero();
            Translation t2 = dev.translate(0, r.address(64), Access.READ);
            assertThat(t2.tlbHit()).isTrue();
            assertThat(dev.translate(0, r.address(M2 + 5 * K4), Access.READ).pageSize()).isEqualTo(K64);

            // a large leaf is unlinked whole
            assertThat(errorOf(() -> r.unlink(0, K4))).isEqualTo(ErrorCode.EINVAL);
            r.unlink(0, M2);
            assertThat(errorOf(() -> dev.translate(0, r.address(64), Access.READ))).isEqualTo(ErrorCode.EFAULT);
            r.unlink(M2, K64 + 3 * K4);
            assertThat(dev.info().mappedPages()).isEqualTo(512);
            // close unlinks what is still linked
        }
        DeviceInfo after = dev.info();
        assertThat(after.iovaRanges()).isEqualTo(before.iovaRanges());
        assertThat(after.mappedPages()).isZero();
        assertThat(after.ptPoolFree()).isEqualTo(before.ptPoolFree());
        assertThat(dev.dump()).isEmpty();
    }

    @Test
    void iovaRangesAreAlignedAndDisjoint() {
        try (IovaRange a = dev.allocIova(K4, 0); IovaRange b = dev.allocIova(K64, 0);
             IovaRange c = dev.allocIova(3 * M2, IovaRange.PREALLOC); IovaRange d = dev.allocIova(5 * K4, 0)) {
            assertThat(b.iova() % K64).isZero();
            assertThat(c.iova() % M2).isZero();
            assertThat(d.iova() % K4).isZero();
            List<IovaRange> all = List.of(a, b, c, d);
            for (IovaRange x : all) {
                assertThat(x.iova()).isPositive().isLessThan(1L << 48);
                for (IovaRange y : all) {
                    if (x != y) {
                        assertThat(x.iova() + x.size() <= y.iova() || y.iova() + y.size() <= x.iova()).isTrue();
                    }
                }
            }
            assertThat(dev.info().iovaRanges()).isEqualTo(4);
        }
    }

    @Test
    void translationFaultsAndStaleTlb() {
        try (DeviceMemory m = dev.allocMemory(4 * K4, 0); IovaRange r = dev.allocIova(4 * K4, 0)) {
            FabricAddress a = r.address(K4);
            dev.readFaults(1000); // drain
            // a miss is cached: linking without sync stays invisible
            assertThat(errorOf(() -> dev.translate(0, a, Access.READ))).isEqualTo(ErrorCode.EFAULT);
            r.link(K4, 0, new long[] {m.firstPfn()}, Prot.READ);
            assertThat(errorOf(() -> dev.translate(0, a, Access.READ))).isEqualTo(ErrorCode.EFAULT);
            // sync of another page does not help
            r.sync(0, K4);
            assertThat(errorOf(() -> dev.translate(0, a, Access.READ))).isEqualTo(ErrorCode.EFAULT);
            r.sync(K4, K4);
            Translation t = dev.translate(0, a.plus(8), Access.READ);
            assertThat(t.phys()).isEqualTo(m.physAddress() + 8);
            assertThat(t.prot()).isEqualTo(Prot.READ);
            assertThat(t.tlbHit()).isFalse();
            assertThat(dev.translate(0, a, Access.READ).tlbHit()).isTrue();
            // protection fault from the cached entry
            assertThat(errorOf(() -> dev.translate(0, a, Access.WRITE))).isEqualTo(ErrorCode.EFAULT);
            // unlink is synchronous
            r.unlink(K4, K4);
            assertThat(errorOf(() -> dev.translate(0, a, Access.READ))).isEqualTo(ErrorCode.EFAULT);

            List<Fault> faults = dev.readFaults(100).faults();
            assertThat(faults).extracting(Fault::reason).containsExactly(FaultReason.NOT_PRESENT,
                    FaultReason.NOT_PRESENT, FaultReason.NOT_PRESENT, FaultReason.PROT, FaultReason.NOT_PRESENT);
            assertThat(faults).extracting(Fault::fromTlb).containsExactly(false, true, true, true, false);
            Fault f = faults.get(3);
            assertThat(f.address()).isEqualTo(a);
            assertThat(f.initiator()).isZero();
            assertThat(f.target()).isEqualTo(-1);
            assertThat(f.access()).isEqualTo(Access.WRITE);
            assertThat(f.atTarget()).isFalse();
            for (int i = 1; i < faults.size(); i++) {
                assertThat(faults.get(i).seq()).isEqualTo(faults.get(i - 1).seq() + 1);
            }
            assertThat(dev.readFaults(100).faults()).isEmpty();
        }
    }

    @Test
    void faultReasonsAtTheTarget() {
        try (UalDevice peer = dev.openPeer(2); DeviceMemory m = peer.allocMemory(2 * K4, 0)) {
            peer.readFaults(1000);
            dev.readFaults(1000);
            peer.grant(2, 0, m.firstPfn(), 1, Prot.READ);
            assertThat(errorOf(() -> dev.translate(0, m.physical(K4), Access.READ))).isEqualTo(ErrorCode.EACCES);
            assertThat(errorOf(() -> dev.translate(0, m.physical(0), Access.WRITE))).isEqualTo(ErrorCode.EACCES);
            // route to an accelerator the fabric lacks
            assertThat(errorOf(() -> dev.translate(0, FabricAddress.physical(9, 0), Access.READ)))
                    .isEqualTo(ErrorCode.EFAULT);
            // address beyond the target's memory
            assertThat(errorOf(() -> dev.translate(0, FabricAddress.physical(2, 64L << 20), Access.READ)))
                    .isEqualTo(ErrorCode.EFAULT);

            List<Fault> mine = dev.readFaults(10).faults();
            assertThat(mine).extracting(Fault::reason).containsExactly(FaultReason.NO_GRANT, FaultReason.GRANT_PROT,
                    FaultReason.BAD_TARGET, FaultReason.OUT_OF_RANGE);
            assertThat(mine.get(0).target()).isEqualTo(2);
            assertThat(mine.get(0).address()).isEqualTo(m.physical(K4));
            assertThat(mine.get(2).target()).isEqualTo(-1);
            assertThat(mine).allSatisfy(f -> assertThat(f.atTarget()).isFalse());

            List<Fault> theirs = peer.readFaults(10).faults();
            assertThat(theirs).extracting(Fault::reason).contains(FaultReason.NO_GRANT, FaultReason.GRANT_PROT);
            assertThat(theirs).allSatisfy(f -> {
                assertThat(f.atTarget()).isTrue();
                assertThat(f.initiator()).isZero();
                assertThat(f.target()).isEqualTo(2);
            });
        }
    }

    @Test
    void modeFaults() {
        try (UalDevice phys = UalDevice.open("fake:?mode=physical"); UalDevice virt = UalDevice.open("fake:?mode=virtual")) {
            assertThat(errorOf(() -> phys.allocIova(K4, 0))).isEqualTo(ErrorCode.ENOTSUP);
            assertThat(errorOf(() -> phys.translate(0, FabricAddress.iova(K4), Access.READ))).isEqualTo(ErrorCode.EFAULT);
            assertThat(phys.readFaults(10).faults()).extracting(Fault::reason).containsExactly(FaultReason.MODE);
            try (DeviceMemory m = virt.allocMemory(K4, 0)) {
                assertThat(errorOf(() -> virt.mapPfns(0, m.pfns(), Prot.READ))).isEqualTo(ErrorCode.ENOTSUP);
                assertThat(errorOf(() -> virt.translate(0, m.physical(0), Access.READ))).isEqualTo(ErrorCode.EFAULT);
                assertThat(virt.readFaults(10).faults()).extracting(Fault::reason).containsExactly(FaultReason.MODE);
            }
        }
    }

    @Test
    void faultRingLosesWhenFull() {
        try (UalDevice d = UalDevice.open("fake:?faults=16")) {
            for (int i = 0; i < 20; i++) {
                long addr = (i + 1) * K4;
                assertThat(errorOf(() -> d.translate(0, FabricAddress.iova(addr), Access.READ))).isEqualTo(ErrorCode.EFAULT);
            }
            FaultBatch peek = d.readFaults(0);
            assertThat(peek.faults()).isEmpty();
            assertThat(peek.lost()).isEqualTo(4);
            FaultBatch b = d.readFaults(100);
            assertThat(b.faults()).hasSize(16);
            assertThat(b.lost()).isZero();
        }
    }

    // ---- copy ---------------------------------------------------------------------------------------------------

    @Test
    void copyMovesBytesAcrossAcceleratorsPhysically() {
        try (UalDevice peer = dev.openPeer(1); DeviceMemory src = dev.allocMemory(4 * K4, 0);
             DeviceMemory dst = peer.allocMemory(4 * K4, 0)) {
            byte[] data = randomBytes((int) (4 * K4), 2);
            src.write(0, data);
            assertThat(errorOf(() -> dev.copy(0, dst.physical(0), src.physical(0), 4 * K4))).isEqualTo(ErrorCode.EACCES);
            assertThat(dst.read(0, data.length)).containsOnly(0); // nothing moved
            peer.grant(1, 0, dst.firstPfn(), 4, Prot.WRITE);
            dev.copy(0, dst.physical(0), src.physical(0), 4 * K4);
            assertThat(dst.read(0, data.length)).isEqualTo(data);
            // an unaligned tail in the middle
            dev.copy(0, dst.physical(64), src.physical(K4 + 192), 320);
            byte[] expect = data.clone();
            System.arraycopy(data, (int) K4 + 192, expect, 64, 320);
            assertThat(dst.read(0, data.length)).isEqualTo(expect);
            assertThat(errorOf(() -> dev.copy(0, dst.physical(0), src.physical(0), 100))).isEqualTo(ErrorCode.EINVAL);
            assertThat(errorOf(() -> dev.copy(0, dst.physical(8), src.physical(0), 64))).isEqualTo(ErrorCode.EINVAL);
        }
    }

    @Test
    void copyThroughIovasHostToDeviceAndBack() {
        try (UalDevice peer = dev.openPeer(1); HostBuffer in = dev.allocateHostBuffer(8 * K4);
             HostBuffer out = dev.allocateHostBuffer(8 * K4); DeviceMemory remote = peer.allocMemory(8 * K4, 0);
             IovaRange window = dev.allocIova(8 * K4, IovaRange.PREALLOC)) {
            byte[] data = randomBytes((int) (8 * K4), 3);
            MemorySegment.copy(data, 0, in.segment(), ValueLayout.JAVA_BYTE, 0, data.length);
            // the remote memory, mapped into accelerator 0's domain in reverse page order
            long[] pfns = remote.pfns();
            long[] reversed = new long[pfns.length];
            for (int i = 0; i < pfns.length; i++) {
                reversed[i] = pfns[pfns.length - 1 - i];
            }
            window.link(0, 1, reversed, Prot.RW);
            window.sync();
            peer.grant(1, 0, remote.firstPfn(), 8, Prot.RW);

            dev.copy(0, window.address(0), in.physical(0), 8 * K4); // host -> remote device (virtual)
            for (int page = 0; page < 8; page++) {
                byte[] got = remote.read((7 - page) * K4, (int) K4);
                assertThat(got).isEqualTo(Arrays.copyOfRange(data, page * (int) K4, (page + 1) * (int) K4));
            }
            dev.copy(0, out.physical(0), window.address(0), 8 * K4); // remote device -> host (virtual)
            assertThat(out.segment().toArray(ValueLayout.JAVA_BYTE)).isEqualTo(data);

            // a read-only mapping refuses the write and moves nothing
            try (IovaRange ro = dev.allocIova(K4, 0)) {
                ro.link(0, 1, new long[] {pfns[0]}, Prot.READ);
                ro.sync();
                byte[] before = remote.read(0, (int) K4);
                assertThat(errorOf(() -> dev.copy(0, ro.address(0), in.physical(0), K4))).isEqualTo(ErrorCode.EFAULT);
                assertThat(remote.read(0, (int) K4)).isEqualTo(before);
            }
        }
    }

    @Test
    void copyDeviceToDeviceByPeerInitiator() {
        try (UalDevice p1 = dev.openPeer(1); UalDevice p2 = dev.openPeer(2);
             DeviceMemory a = p1.allocMemory(2 * K4, 0); DeviceMemory b = p2.allocMemory(2 * K4, 0)) {
            byte[] data = randomBytes((int) (2 * K4), 4);
            a.write(0, data);
            // accelerator 3 moves bytes from 1 to 2
            p1.grant(1, 3, a.firstPfn(), 2, Prot.READ);
            p2.grant(2, 3, b.firstPfn(), 2, Prot.WRITE);
            dev.copy(3, b.physical(0), a.physical(0), 2 * K4);
            assertThat(b.read(0, data.length)).isEqualTo(data);
        }
    }

    // ---- peers and named fabrics --------------------------------------------------------------------------------

    @Test
    void peersShareTheFabric() {
        try (UalDevice p = dev.openPeer(3)) {
            assertThat(p.acceleratorId()).isEqualTo(3);
            assertThat(p.info().acceleratorId()).isEqualTo(3);
            assertThat(p.info().acceleratorCount()).isEqualTo(4);
            try (DeviceMemory m = p.allocMemory(K4, 0)) {
                assertThat(p.info().memoryFree()).isEqualTo((64L << 20) - K4);
                assertThat(dev.info().memoryFree()).isEqualTo(64L << 20);
                // a domain per accelerator
                try (IovaRange r = p.allocIova(K4, 0)) {
                    r.link(0, 3, m.pfns(), Prot.RW);
                    r.sync();
                    assertThat(p.dump()).hasSize(1);
                    assertThat(dev.dump()).isEmpty();
                    assertThat(dev.translate(3, FabricAddress.iova(r.iova()), Access.READ).phys()).isEqualTo(m.physAddress());
                    assertThat(errorOf(() -> dev.translate(0, FabricAddress.iova(r.iova()), Access.READ)))
                            .isEqualTo(ErrorCode.EFAULT);
                }
            }
            assertThat(errorOf(() -> dev.openPeer(4))).isEqualTo(ErrorCode.ENODEV);
        }
        // closing a peer leaves the first handle working
        assertThat(dev.info().acceleratorCount()).isEqualTo(4);
    }

    @Test
    void closingAHandleFreesWhatItCreated() {
        UalDevice p = dev.openPeer(1);
        p.allocMemory(16 * K4, 0);
        IovaRange r = p.allocIova(K4, 0);
        try (DeviceMemory m = p.allocMemory(K4, 0)) {
            r.link(0, 1, m.pfns(), Prot.RW);
        }
        p.grant(1, 0, 0, 1, Prot.READ);
        p.close();
        try (UalDevice again = dev.openPeer(1)) {
            DeviceInfo info = again.info();
            assertThat(info.memoryFree()).isEqualTo(info.memorySize());
            assertThat(info.iovaRanges()).isZero();
            assertThat(info.mappedPages()).isZero();
            assertThat(info.grants()).isZero();
        }
    }

    @Test
    void namedFabricsAreShared() {
        String name = "fake:apitest-" + System.nanoTime();
        try (UalDevice a = UalDevice.open(name + "?accels=8"); UalDevice b = UalDevice.open(name + "?local=5")) {
            assertThat(b.acceleratorId()).isEqualTo(5);
            assertThat(b.info().acceleratorCount()).isEqualTo(8);
            try (DeviceMemory m = b.allocMemory(K4, 0)) {
                m.write(0, new byte[] {1, 2, 3});
                try (DeviceMemory local = a.allocMemory(K4, 0)) {
                    b.grant(5, 0, m.firstPfn(), 1, Prot.READ);
                    a.copy(0, local.physical(0), m.physical(0), 64);
                    assertThat(local.read(0, 3)).containsExactly(1, 2, 3);
                }
            }
            assertThat(errorOf(() -> UalDevice.open(name + "?accels=4"))).isEqualTo(ErrorCode.EEXIST);
            try (UalDevice c = UalDevice.open(name)) {
                assertThat(c.info().acceleratorCount()).isEqualTo(8);
            }
        }
        // the fabric died with its last handle: other options are fine now
        try (UalDevice d = UalDevice.open(name + "?accels=2")) {
            assertThat(d.info().acceleratorCount()).isEqualTo(2);
        }
        // anonymous fabrics are never shared
        try (UalDevice x = UalDevice.open("fake:?accels=2"); UalDevice y = UalDevice.open("fake:?accels=3")) {
            assertThat(x.info().acceleratorCount()).isEqualTo(2);
            assertThat(y.info().acceleratorCount()).isEqualTo(3);
        }
    }

    @Test
    void exceptionCarriesLastError() {
        try (DeviceMemory m = dev.allocMemory(K4, 0); IovaRange r = dev.allocIova(K4, 0)) {
            UalException e = (UalException) org.assertj.core.api.Assertions.catchThrowable(
                    () -> r.link(0, 0, new long[] {0x4000}, Prot.READ));
            assertThat(e.error()).isEqualTo(ErrorCode.ERANGE);
            assertThat(e.operation()).isEqualTo("iova_link");
            assertThat(e.getMessage()).startsWith("iova_link: ").contains(" (ERANGE): ").contains("0x4000");
        }
    }
}
