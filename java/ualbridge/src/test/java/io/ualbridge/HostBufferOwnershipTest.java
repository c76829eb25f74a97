package io.ualbridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A host buffer belongs to the handle that registered it: closing it while linked or granted throws EBUSY and
 * leaves it open (usable, registered, memory kept); local requests through another handle are refused.
 */
class HostBufferOwnershipTest {
    static final long K4 = 4096;

    UalDevice dev;

    @BeforeEach
    void open() {
        dev = UalDevice.open("fake:?accels=2");
    }

    @AfterEach
    void close() {
        dev.close();
    }

    static UalException thrown(Runnable r) {
        try {
            r.run();
        } catch (UalException e) {
            return e;
        }
        throw new AssertionError("expected a UalException");
    }

    @Test
    void closeWhileLinkedThrowsBusyAndStaysOpen() {
        HostBuffer hb = dev.allocateHostBuffer(2 * K4);
        hb.segment().fill((byte) 0x5a);
        try (IovaRange r = dev.allocIova(2 * K4, 0)) {
            r.link(0, 0, hb.pfns(), Prot.RW);
            r.sync();
            UalException e = thrown(hb::close);
            assertThat(e.error()).isEqualTo(ErrorCode.EBUSY);
            assertThat(e.getMessage()).contains("2 page(s) linked");
            // still open and registered: its memory and PFNs work, the link still reaches it
            assertThat(hb.segment().get(ValueLayout.JAVA_BYTE, K4)).isEqualTo((byte) 0x5a);
            assertThat(dev.translate(0, r.address(0), Access.READ).target()).isZero();
            assertThat(dev.mapPfns(0, hb.pfns(), Prot.READ)).hasSize(2);
            r.unlink(0, 2 * K4);
        }
        hb.close();
        assertThatThrownBy(hb::segment).isInstanceOf(IllegalStateException.class);
        hb.close(); // idempotent
    }

    @Test
    void closeWhileGrantedThrowsBusyUntilRevoked() {
        HostBuffer hb = dev.allocateHostBuffer(K4);
        long pfn = hb.pfns()[0];
        dev.grant(0, 1, pfn, 1, Prot.READ);
        UalException e = thrown(hb::close);
        assertThat(e.error()).isEqualTo(ErrorCode.EBUSY);
        assertThat(e.getMessage()).contains("1 page(s) granted");
        assertThat(hb.pfns()).containsExactly(pfn);
        dev.revoke(0, 1, pfn, 1);
        hb.close();
        // the page is gone: accelerator 1's request to it faults
        try (UalDevice peer = dev.openPeer(1)) {
            assertThat(thrown(() -> peer.translate(1, FabricAddress.physical(0, pfn << 12), Access.READ)).error())
                    .isEqualTo(ErrorCode.EFAULT);
        }
    }

    @Test
    void closingTheDeviceReleasesALinkedBuffer() {
        UalDevice other = dev.openPeer(0);
        HostBuffer hb = other.allocateHostBuffer(K4);
        IovaRange r = other.allocIova(K4, 0);
        r.link(0, 0, hb.pfns(), Prot.RW);
        other.grant(0, 1, hb.pfns()[0], 1, Prot.READ);
        assertThat(thrown(hb::close).error()).isEqualTo(ErrorCode.EBUSY);
        other.close(); // ranges, grants, then registrations
        assertThat(dev.info().grants()).isZero();
        assertThat(dev.info().mappedPages()).isZero();
        hb.close();
        r.close();
    }

    @Test
    void localRequestsThroughAnotherHandleAreRefused() {
        try (UalDevice other = dev.openPeer(0); HostBuffer hb = dev.allocateHostBuffer(K4);
             DeviceMemory mine = other.allocMemory(K4, 0)) {
            hb.segment().fill((byte) 0x33);
            FabricAddress secret = hb.physical(0x100);
            assertThat(dev.translate(0, secret, Access.READ).target()).isZero();
            other.readFaults(64);
            UalException e = thrown(() -> other.translate(0, secret, Access.READ));
            assertThat(e.error()).isEqualTo(ErrorCode.EACCES);
            assertThat(e.getMessage()).contains("registered through another handle");
            assertThat(thrown(() -> other.copy(0, mine.physical(0), secret, 256)).error()).isEqualTo(ErrorCode.EACCES);
            assertThat(thrown(() -> other.copy(0, secret, mine.physical(0), 256)).error()).isEqualTo(ErrorCode.EACCES);
            FaultBatch faults = other.readFaults(64);
            assertThat(faults.faults()).hasSize(3).allSatisfy(f -> assertThat(f.reason()).isEqualTo(FaultReason.NO_GRANT));
            byte[] zeros = new byte[256];
            assertThat(mine.read(0, 256)).isEqualTo(zeros);
            byte[] all = hb.segment().toArray(ValueLayout.JAVA_BYTE);
            byte[] want = new byte[(int) K4];
            Arrays.fill(want, (byte) 0x33);
            assertThat(all).isEqualTo(want);
            // the registering handle copies it
            dev.copy(0, FabricAddress.physical(0, mine.firstPfn() << 12), secret, 256);
            assertThat(MemorySegment.ofArray(mine.read(0, 256)).get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 0x33);
        }
    }
}
