package io.ualbridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Every method of a closed object throws IllegalStateException; nothing crashes; close is idempotent. */
class ClosedHandleTest {
    static final long K4 = 4096;

    static void allThrowIse(Map<String, Executable> calls) {
        for (var e : calls.entrySet()) {
            assertThatThrownBy(() -> e.getValue().execute()).as(e.getKey())
                    .isInstanceOf(IllegalStateException.class);
        }
    }

    static Map<String, Executable> deviceCalls(UalDevice d, MemorySegment nativeSeg) {
        return Map.ofEntries(
                Map.entry("openPeer", () -> d.openPeer(1)),
                Map.entry("info", d::info),
                Map.entry("allocMemory", () -> d.allocMemory(K4, 0)),
                Map.entry("writeMemory(segment)", () -> d.writeMemory(0, nativeSeg)),
                Map.entry("writeMemory(byte[])", () -> d.writeMemory(0, new byte[8])),
                Map.entry("readMemory(segment)", () -> d.readMemory(0, nativeSeg)),
                Map.entry("readMemory(len)", () -> d.readMemory(0, 8)),
                Map.entry("register", () -> d.register(nativeSeg)),
                Map.entry("allocateHostBuffer", () -> d.allocateHostBuffer(K4)),
                Map.entry("mapPfns(long[])", () -> d.mapPfns(0, new long[] {0}, Prot.READ)),
                Map.entry("mapPfns(segment)", () -> d.mapPfns(0, nativeSeg, 1, Prot.READ, nativeSeg)),
                Map.entry("allocIova", () -> d.allocIova(K4, 0)),
                Map.entry("dump(iova,len)", () -> d.dump(0, 0)),
                Map.entry("dump()", d::dump),
                Map.entry("grant", () -> d.grant(0, 1, 0, 1, Prot.READ)),
                Map.entry("revoke", () -> d.revoke(0, 1, 0, 1)),
                Map.entry("translate", () -> d.translate(0, FabricAddress.iova(K4), Access.READ)),
                Map.entry("copy", () -> d.copy(0, FabricAddress.iova(K4), FabricAddress.iova(2 * K4), 64)),
                Map.entry("readFaults", () -> d.readFaults(4)),
                Map.entry("allocCount", d::allocCount));
    }

    @Test
    void closedDevice() {
        UalDevice d = UalDevice.open("fake:?accels=2&local=1");
        d.close();
        d.close();
        assertThat(d.isOpen()).isFalse();
        assertThat(d.acceleratorId()).isEqualTo(1);
        assertThat(d.uri()).isEqualTo("fake:?accels=2&local=1");
        assertThat(d.toString()).contains("closed");
        try (Arena a = Arena.ofConfined()) {
            allThrowIse(deviceCalls(d, a.allocate(K4, K4)));
        }
    }

    static Map<String, Executable> memoryCalls(DeviceMemory m) {
        return Map.of("firstPfn", m::firstPfn, "physAddress", m::physAddress, "size", m::size,
                "pageCount", m::pageCount, "pfns", m::pfns, "pfnSegment", m::pfnSegment,
                "write", () -> m.write(0, new byte[1]), "read", () -> m.read(0, 1),
                "physical", () -> m.physical(0));
    }

    static Map<String, Executable> hostCalls(HostBuffer h) {
        return Map.of("segment", h::segment, "pfns", h::pfns, "pfnSegment", h::pfnSegment, "size", h::size,
                "accelerator", h::accelerator, "physical", () -> h.physical(0));
    }

    static Map<String, Executable> rangeCalls(IovaRange r) {
        return Map.ofEntries(Map.entry("iova", r::iova), Map.entry("size", r::size),
                Map.entry("link(long[])", () -> r.link(0, 0, new long[] {0}, Prot.RW)),
                Map.entry("link(segment)", () -> r.link(0, 0, Arena.global().allocate(8), 1, Prot.RW)),
                Map.entry("sync(off,len)", () -> r.sync(0, K4)), Map.entry("sync()", r::sync),
                Map.entry("unlink", () -> r.unlink(0, K4)), Map.entry("address", () -> r.address(0)),
                Map.entry("dump", r::dump));
    }

    @Test
    void closedChildren() {
        try (UalDevice d = UalDevice.open("fake:")) {
            DeviceMemory m = d.allocMemory(K4, 0);
            HostBuffer h = d.allocateHostBuffer(K4);
            IovaRange r = d.allocIova(K4, 0);
            r.link(0, 0, m.pfns(), Prot.RW);
            long free = d.info().memoryFree();
            m.close();
            m.close();
            h.close();
            h.close();
            r.close(); // unlinks first
            r.close();
            assertThat(d.info().memoryFree()).isEqualTo(free + K4);
            assertThat(d.info().iovaRanges()).isZero();
            assertThat(d.info().mappedPages()).isZero();
            allThrowIse(memoryCalls(m));
            allThrowIse(hostCalls(h));
            allThrowIse(rangeCalls(r));
            assertThat(List.of(m.toString(), h.toString(), r.toString())).allMatch(s -> s.contains("closed"));
        }
    }

    @Test
    void childrenOfAClosedDevice() {
        UalDevice d = UalDevice.open("fake:");
        DeviceMemory m = d.allocMemory(K4, 0);
        HostBuffer h = d.allocateHostBuffer(K4);
        MemorySegment owned = h.segment();
        IovaRange r = d.allocIova(K4, 0);
        r.link(0, 0, m.pfns(), Prot.RW);
        Arena arena = Arena.ofConfined();
        HostBuffer userBuf = d.register(arena.allocate(K4, K4));
        d.close();
        allThrowIse(memoryCalls(m));
        allThrowIse(hostCalls(h));
        allThrowIse(hostCalls(userBuf));
        allThrowIse(rangeCalls(r));
        // the memory the host buffer allocated was freed with the device
        assertThat(owned.scope().isAlive()).isFalse();
        // closing children afterwards is harmless
        for (AutoCloseable c : List.<AutoCloseable>of(m, h, r, userBuf)) {
            Consumer<AutoCloseable> close = x -> {
                try {
                    x.close();
                    x.close();
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            };
            close.accept(c);
        }
        arena.close(); // the caller's memory is the caller's
    }
}
