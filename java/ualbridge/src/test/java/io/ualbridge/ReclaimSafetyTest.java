package io.ualbridge;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;

import org.junit.jupiter.api.Test;

/** The reclaim-safe contract: on a PREALLOC range, link and unlink never allocate. */
class ReclaimSafetyTest {
    static final long K4 = 4096, K64 = 65536, M2 = 2L << 20;

    /** Links 2 MiB leaves, 64 KiB leaves and scattered 4 KiB pages over an 8 MiB range, then unlinks it all. */
    static void linkAndUnlinkEverything(IovaRange r, DeviceMemory m) {
        long[] pfns = m.pfns();
        r.link(0, 0, Arrays.copyOfRange(pfns, 0, 512), Prot.RW);            // 2 MiB leaf
        r.link(M2, 0, Arrays.copyOfRange(pfns, 512, 1024), Prot.READ);      // 2 MiB leaf
        r.link(2 * M2, 0, Arrays.copyOfRange(pfns, 1024, 1024 + 64), Prot.RW); // 64 KiB leaves
        long[] scattered = new long[600];
        for (int i = 0; i < scattered.length; i++) {
            scattered[i] = pfns[(i * 37) % pfns.length];
        }
        r.link(2 * M2 + 100 * K4, 0, scattered, Prot.RW);                   // 4 KiB leaves across two tables
        r.sync();
        assertThat(r.dump()).extracting(Mapping::size).contains(M2, K64, K4);
        r.unlink(0, M2);
        r.unlink(M2, M2);
        r.unlink(2 * M2, 64 * K4);
        r.unlink(2 * M2 + 100 * K4, 600 * K4);
        assertThat(r.dump()).isEmpty();
    }

    /**
     * Creates the domain's root table (kept for the life of the domain) by linking and unlinking one page, so
     * that the pool's free count afterwards is a baseline the domain returns to.
     */
    static void createRoot(UalDevice dev) {
        try (DeviceMemory m = dev.allocMemory(K4, 0); IovaRange r = dev.allocIova(K4, 0)) {
            r.link(0, 0, m.pfns(), Prot.READ);
            r.unlink(0, K4);
        }
    }

    @Test
    void preallocatedRangeNeverAllocates() {
        try (UalDevice dev = UalDevice.open("fake:");
             DeviceMemory m = dev.allocMemory(4 * M2, M2);
             IovaRange r = dev.allocIova(4 * M2, IovaRange.PREALLOC)) {
            long poolFree = dev.info().ptPoolFree();
            long before = dev.allocCount();
            for (int round = 0; round < 3; round++) {
                linkAndUnlinkEverything(r, m);
                assertThat(dev.allocCount()).as("allocations after round " + round).isEqualTo(before);
            }
            assertThat(dev.info().ptPoolFree()).isEqualTo(poolFree);
        }
    }

    @Test
    void ordinaryRangeAllocatesTablePages() {
        try (UalDevice dev = UalDevice.open("fake:");
             DeviceMemory m = dev.allocMemory(4 * M2, M2);
             IovaRange r = dev.allocIova(4 * M2, 0)) {
            long before = dev.allocCount();
            r.link(3 * M2, 0, new long[] {m.firstPfn()}, Prot.RW);
            assertThat(dev.allocCount()).as("a link on an empty ordinary range takes table pages").isGreaterThan(before);
            r.unlink(3 * M2, K4);
            long mid = dev.allocCount();
            linkAndUnlinkEverything(r, m);
            assertThat(dev.allocCount()).isGreaterThan(mid);
        }
    }

    @Test
    void ordinaryRangeReturnsEmptiedTablePages() {
        try (UalDevice dev = UalDevice.open("fake:")) {
            createRoot(dev);
            long poolFree = dev.info().ptPoolFree();
            try (DeviceMemory m = dev.allocMemory(4 * M2, M2); IovaRange r = dev.allocIova(4 * M2, 0)) {
                r.link(3 * M2, 0, new long[] {m.firstPfn()}, Prot.RW);
                assertThat(dev.info().ptPoolFree()).isLessThan(poolFree);
                r.unlink(3 * M2, K4);
                assertThat(dev.info().ptPoolFree()).as("emptied table pages go back to the pool on unlink")
                        .isEqualTo(poolFree);
                linkAndUnlinkEverything(r, m);
                assertThat(dev.info().ptPoolFree()).as("after linking and unlinking everything").isEqualTo(poolFree);
            }
            assertThat(dev.info().ptPoolFree()).isEqualTo(poolFree);
        }
    }

    @Test
    void preallocationReservesPoolPagesUntilFree() {
        try (UalDevice dev = UalDevice.open("fake:")) {
            createRoot(dev);
            long poolFree = dev.info().ptPoolFree();
            IovaRange r = dev.allocIova(4 * M2, IovaRange.PREALLOC);
            assertThat(dev.info().ptPoolFree()).isLessThan(poolFree);
            r.close();
            assertThat(dev.info().ptPoolFree()).isEqualTo(poolFree);
        }
    }

    @Test
    void preallocationFailsWhenThePoolIsTooSmall() {
        try (UalDevice dev = UalDevice.open("fake:?pt_pool=4")) {
            long poolFree = dev.info().ptPoolFree();
            long ranges = dev.info().iovaRanges();
            UalException e = org.junit.jupiter.api.Assertions.assertThrows(UalException.class,
                    () -> dev.allocIova(64 * M2, IovaRange.PREALLOC));
            assertThat(e.error()).isEqualTo(ErrorCode.ENOMEM);
            assertThat(dev.info().ptPoolFree()).isEqualTo(poolFree);
            assertThat(dev.info().iovaRanges()).isEqualTo(ranges);
        }
    }
}
