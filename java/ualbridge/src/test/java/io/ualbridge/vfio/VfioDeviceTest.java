package io.ualbridge.vfio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.ualbridge.Access;
import io.ualbridge.DeviceInfo;
import io.ualbridge.DeviceMemory;
import io.ualbridge.ErrorCode;
import io.ualbridge.FabricAddress;
import io.ualbridge.Fault;
import io.ualbridge.FaultReason;
import io.ualbridge.HostBuffer;
import io.ualbridge.IovaRange;
import io.ualbridge.Prot;
import io.ualbridge.UalDevice;
import io.ualbridge.UalException;

/**
 * A real PCI device through {@code vfio:}: bytes of a Java-owned buffer go through the IOMMU (virtual mode) or by
 * their physical address (physical mode) into the device's buffer and back, every byte checked. Runs only where a
 * device is named: system property {@code ualbridge.vfio.uri} or environment {@code UAL_VFIO_URI} (for example
 * {@code vfio:0000:00:03.0}); scripts/guest/vfio-tests.sh runs it in QEMU guests with QEMU's edu device.
 */
class VfioDeviceTest {
    private static final Logger LOG = LoggerFactory.getLogger(VfioDeviceTest.class);
    private static final long K4 = 4096;
    /** edu cannot take a transfer that touches its buffer's last byte: the most one copy moves at offset 0. */
    private static final int MOST = 4032;

    private static String uri;

    @BeforeAll
    static void device() {
        uri = System.getProperty("ualbridge.vfio.uri", System.getenv("UAL_VFIO_URI"));
        assumeTrue(uri != null && !uri.isBlank(), "no vfio device named (set -Dualbridge.vfio.uri=vfio:<BDF> or "
                + "UAL_VFIO_URI; scripts/guest/vfio-tests.sh does, in a QEMU guest with edu)");
    }

    /**
     * The addresses of a Java-owned host buffer and the device's buffer, in the device's addressing mode; closing
     * it frees the IOVA range (virtual mode), which must go before the buffer is unregistered.
     */
    private record Rig(FabricAddress host0, FabricAddress host1, FabricAddress dev, IovaRange range)
            implements AutoCloseable {
        @Override
        public void close() {
            if (range != null) {
                range.close();
            }
        }
    }

    private static Rig rig(UalDevice d, HostBuffer hb, DeviceMemory m) {
        DeviceInfo i = d.info();
        if (i.supportsVirtual()) {
            IovaRange r = d.allocIova(4 * K4, 0);
            r.link(0, 0, hb.pfns(), Prot.RW);
            r.link(2 * K4, 0, m.pfns(), Prot.RW);
            r.sync();
            return new Rig(r.address(0), r.address(K4), r.address(2 * K4), r);
        }
        FabricAddress[] h = d.mapPfns(0, hb.pfns(), Prot.RW);
        return new Rig(h[0], h[1], d.mapPfns(0, m.pfns(), Prot.RW)[0], null);
    }

    @Test
    void javaBufferThroughTheDeviceAndBackEveryByte() {
        try (UalDevice d = UalDevice.open(uri); Arena arena = Arena.ofConfined()) {
            DeviceInfo info = d.info();
            assertEquals("vfio", info.backend());
            MemorySegment buf = arena.allocate(2 * K4, K4); // Java-owned, page aligned
            for (int k = 0; k < 2 * K4; k++) {
                buf.set(ValueLayout.JAVA_BYTE, k, (byte) (k < K4 ? k * 13 + 7 : 0xa5));
            }
            try (HostBuffer hb = d.register(buf); DeviceMemory m = d.allocMemory(K4, 0); Rig r = rig(d, hb, m)) {
                long t0 = System.nanoTime();
                d.copy(0, r.dev(), r.host0(), MOST);   // host -> device
                d.copy(0, r.host1(), r.dev(), MOST);   // device -> host
                long ns = System.nanoTime() - t0;
                byte[] sent = buf.asSlice(0, MOST).toArray(ValueLayout.JAVA_BYTE);
                byte[] back = buf.asSlice(K4, MOST).toArray(ValueLayout.JAVA_BYTE);
                for (int k = 0; k < MOST; k++) {
                    if (sent[k] != back[k]) {
                        throw new AssertionError("byte " + k + " came back as " + back[k] + ", sent " + sent[k]);
                    }
                }
                for (long k = K4 + MOST; k < 2 * K4; k++) {
                    assertEquals((byte) 0xa5, buf.get(ValueLayout.JAVA_BYTE, k), "byte past the copy at " + k);
                }
                assertTrue(d.readFaults(8).faults().isEmpty(), "faults after good copies");
                String mode = info.supportsVirtual() ? "virtual (IOMMU)" : "physical";
                System.out.printf("%s: %d bytes host -> device -> host in %s mode, every byte equal, %.1f ms%n",
                        uri, MOST, mode, ns / 1e6);
                LOG.info("{}: {} bytes round trip in {} mode, {} ms", uri, MOST, mode, ns / 1e6);
            }
        }
    }

    @Test
    void refusedBeforeTheDeviceSeesIt() {
        try (UalDevice d = UalDevice.open(uri); Arena arena = Arena.ofConfined();
             HostBuffer hb = d.register(arena.allocate(2 * K4, K4)); DeviceMemory m = d.allocMemory(K4, 0);
             Rig r = rig(d, hb, m)) {
            UalException e = assertThrows(UalException.class, () -> d.copy(0, r.dev(), r.host0(), K4));
            assertEquals(ErrorCode.ERANGE, e.error(), e.getMessage());
            assertTrue(e.getMessage().contains("last byte"), e.getMessage());
            e = assertThrows(UalException.class, () -> d.copy(0, r.host0(), r.dev().plus(MOST), 64));
            assertEquals(ErrorCode.ERANGE, e.error(), e.getMessage());
            e = assertThrows(UalException.class, () -> d.copy(0, r.host1(), r.host0(), 64));
            assertEquals(ErrorCode.ENOTSUP, e.error(), e.getMessage());
            e = assertThrows(UalException.class, () -> d.writeMemory(m.physAddress(), new byte[64]));
            assertEquals(ErrorCode.ENOTSUP, e.error(), e.getMessage());
            assertTrue(d.readFaults(8).faults().isEmpty(), "refused inputs recorded faults");
        }
    }

    @Test
    void dmaToAnUnlinkedIovaWritesNothingAndIsReported() {
        try (UalDevice d = UalDevice.open(uri); Arena arena = Arena.ofConfined()) {
            assumeTrue(d.info().supportsVirtual(), "physical mode has no IOMMU to block a request");
            MemorySegment buf = arena.allocate(2 * K4, K4);
            buf.fill((byte) 0x3c);
            try (HostBuffer hb = d.register(buf); DeviceMemory m = d.allocMemory(K4, 0); Rig r = rig(d, hb, m)) {
                d.copy(0, r.dev(), r.host0(), 1024);
                IovaRange victim = d.allocIova(K4, 0);
                MemorySegment page = arena.allocate(K4, K4);
                page.fill((byte) 0x5a);
                HostBuffer pb = d.register(page);
                victim.link(0, 0, pb.pfns(), Prot.RW);
                victim.sync();
                d.copy(0, victim.address(0), r.dev(), 1024);
                assertEquals((byte) 0x3c, page.get(ValueLayout.JAVA_BYTE, 0), "the linked copy did not arrive");
                page.fill((byte) 0x5a);
                victim.unlink(0, K4);
                UalException e = assertThrows(UalException.class, () -> d.copy(0, victim.address(0), r.dev(), 1024));
                assertEquals(ErrorCode.EFAULT, e.error(), e.getMessage());
                System.out.println("unlinked IOVA: " + e.getMessage());
                for (long k = 0; k < K4; k++) {
                    assertEquals((byte) 0x5a, page.get(ValueLayout.JAVA_BYTE, k), "byte " + k + " of the unlinked page");
                }
                List<Fault> f = d.readFaults(8).faults();
                assertEquals(1, f.size(), f.toString());
                assertEquals(FaultReason.NOT_PRESENT, f.get(0).reason());
                assertEquals(victim.address(0), f.get(0).address());
                assertEquals(Access.WRITE, f.get(0).access());
                victim.close();
                pb.close();
            }
        }
    }
}
