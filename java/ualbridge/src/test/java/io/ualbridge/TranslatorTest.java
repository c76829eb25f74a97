package io.ualbridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The allocation-free translate form: same answers as {@link UalDevice#translate}, codes instead of throws. */
class TranslatorTest {
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

    @Test
    void agreesWithTheRecordFormOnIovas() {
        try (DeviceMemory m = dev.allocMemory(4 * K4, 0); IovaRange r = dev.allocIova(4 * K4, 0);
                Translator t = dev.translator()) {
            r.link(K4, 0, new long[] {m.firstPfn() + 2}, Prot.READ);
            r.sync();
            long iova = r.iova() + K4 + 72;
            assertThat(t.translate(0, false, 0, iova, Access.READ)).isZero();
            assertThat(t.phys()).isEqualTo(m.physAddress() + 2 * K4 + 72);
            assertThat(t.target()).isEqualTo(0);
            assertThat(t.pageSize()).isEqualTo(K4);
            assertThat(t.prot()).isEqualTo(Prot.READ);
            assertThat(t.tlbHit()).isFalse();
            assertThat(t.translate(0, FabricAddress.iova(iova), Access.READ)).isZero();
            assertThat(t.tlbHit()).isTrue();
            assertThat(t.result()).isEqualTo(dev.translate(0, FabricAddress.iova(iova), Access.READ));
        }
    }

    @Test
    void refusalsAreCodesWithTheSameMessageAndFault() {
        try (UalDevice peer = dev.openPeer(1); DeviceMemory m = peer.allocMemory(2 * K4, 0);
                Translator t = dev.translator()) {
            dev.readFaults(100);
            FabricAddress a = m.physical(64);
            int rc = t.translate(0, true, 1, a.address(), Access.WRITE);
            assertThat(ErrorCode.of(rc)).isEqualTo(ErrorCode.EACCES);
            UalException e = t.error(rc);
            assertThat(e.error()).isEqualTo(ErrorCode.EACCES);
            assertThat(e.operation()).isEqualTo("translate");
            String detail = e.detail();
            assertThatThrownBy(() -> dev.translate(0, a, Access.WRITE)).isInstanceOf(UalException.class)
                    .satisfies(x -> assertThat(((UalException) x).detail()).isEqualTo(detail));
            assertThat(dev.readFaults(100).faults()).hasSize(2);
            // the failed call leaves nothing to read
            assertThatThrownBy(t::phys).isInstanceOf(IllegalStateException.class);
            // an IOVA nothing maps
            assertThat(ErrorCode.of(t.translate(0, false, 0, 1L << 30, Access.READ))).isEqualTo(ErrorCode.EFAULT);
            // bad access and unknown initiator are codes too
            assertThat(ErrorCode.of(t.translate(0, false, 0, 0, 7))).isEqualTo(ErrorCode.EINVAL);
            assertThat(ErrorCode.of(t.translate(9, true, 1, a.address(), Access.READ))).isEqualTo(ErrorCode.ENODEV);
            // granted: now it succeeds
            peer.grant(1, 0, m.firstPfn(), 1, Prot.RW);
            assertThat(t.translate(0, true, 1, a.address(), Access.WRITE)).isZero();
            assertThat(t.target()).isEqualTo(1);
            assertThat(t.phys()).isEqualTo(m.physAddress() + 64);
            assertThatThrownBy(() -> t.error(0)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void badComponentsAreRejectedLikeFabricAddress() {
        try (Translator t = dev.translator()) {
            assertThatThrownBy(() -> t.translate(0, true, 1024, 0, Access.READ))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("target 1024");
            assertThatThrownBy(() -> t.translate(0, true, 1, 1L << 57, Access.READ))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("57 bits");
            assertThatThrownBy(() -> t.translate(0, false, 3, 0, Access.READ))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no target");
            assertThatThrownBy(t::tlbHit).isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void belongsToItsThread() throws Exception {
        try (Translator t = dev.translator()) {
            AtomicReference<Throwable> seen = new AtomicReference<>();
            Thread other = new Thread(() -> {
                try {
                    t.translate(0, false, 0, 0, Access.READ);
                } catch (Throwable e) {
                    seen.set(e);
                }
            });
            other.start();
            other.join();
            assertThat(seen.get()).isInstanceOf(WrongThreadException.class);
        }
    }

    @Test
    void deviceStaysOpenWhileATranslatorIs() {
        Translator t = dev.translator();
        assertThatThrownBy(dev::close).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("translator");
        assertThat(dev.isOpen()).isTrue();
        assertThat(ErrorCode.of(t.translate(0, false, 0, 0, Access.READ))).isEqualTo(ErrorCode.EFAULT);
        t.close();
        t.close();
        assertThatThrownBy(() -> t.translate(0, false, 0, 0, Access.READ)).isInstanceOf(IllegalStateException.class);
        dev.close();
        assertThat(dev.isOpen()).isFalse();
        assertThatThrownBy(dev::translator).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aTranslatorOfAFinishedThreadDoesNotHoldTheDevice() throws Exception {
        Thread th = new Thread(() -> dev.translator().translate(0, false, 0, 0, Access.READ));
        th.start();
        th.join();
        dev.close();
        assertThat(dev.isOpen()).isFalse();
    }
}
