package io.ualbridge;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Several threads mapping, unmapping and translating on one device and its peers at once. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ConcurrencyTest {
    static final long K4 = 4096, M2 = 2L << 20;
    static final int THREADS = Integer.getInteger("ct.threads", 8), ROUNDS = 300;

    static ErrorCode errorOf(Runnable r) {
        try {
            r.run();
            return null;
        } catch (UalException e) {
            return e.error();
        }
    }

    @Test
    void mapUnmapTranslateFromManyThreads() throws Exception {
        try (UalDevice dev = UalDevice.open("fake:?accels=4");
             UalDevice p1 = dev.openPeer(1); UalDevice p2 = dev.openPeer(2)) {
            UalDevice[] devs = {dev, p1, p2};
            DeviceMemory[] mem = new DeviceMemory[3];
            for (int i = 0; i < 3; i++) {
                mem[i] = devs[i].allocMemory(8 * M2, M2);
            }
            // everybody may reach everybody's memory
            for (int t = 0; t < 3; t++) {
                for (int i = 0; i < 3; i++) {
                    if (i != t) {
                        devs[t].grant(t, i, mem[t].firstPfn(), mem[t].pageCount(), Prot.RW);
                    }
                }
            }
            List<DeviceInfo> before = new ArrayList<>();
            for (UalDevice d : devs) {
                before.add(d.info());
            }
            CountDownLatch start = new CountDownLatch(1);
            AtomicLong translations = new AtomicLong();
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            List<Future<?>> futures = new ArrayList<>();
            for (int th = 0; th < THREADS; th++) {
                int id = th;
                futures.add(pool.submit(() -> {
                    start.await();
                    Random rnd = new Random(id);
                    UalDevice d = devs[id % 3];
                    int initiator = d.acceleratorId();
                    for (int round = 0; round < ROUNDS; round++) {
                        int target = rnd.nextInt(3);
                        DeviceMemory m = mem[target];
                        boolean big = round % 25 == 0;
                        int pages = big ? 512 : 1 + rnd.nextInt(32);
                        try (IovaRange r = d.allocIova(pages * K4, rnd.nextBoolean() ? IovaRange.PREALLOC : 0)) {
                            long[] pfns = new long[pages];
                            long first = m.firstPfn() + 512L * rnd.nextInt(8);
                            for (int i = 0; i < pages; i++) {
                                pfns[i] = big ? first + i : m.firstPfn() + rnd.nextInt((int) m.pageCount());
                            }
                            FabricAddress probe = r.address((pages - 1) * K4);
                            // never linked: not present
                            assertThat(errorOf(() -> d.translate(initiator, probe, Access.READ))).isEqualTo(ErrorCode.EFAULT);
                            r.link(0, target, pfns, Prot.RW);
                            r.sync();
                            for (int i = 0; i < pages; i += big ? 37 : 1) {
                                int off = 64 * rnd.nextInt(64);
                                Translation t = d.translate(initiator, r.address(i * K4 + off), Access.WRITE);
                                assertThat(t.target()).isEqualTo(target);
                                assertThat(t.phys()).isEqualTo((pfns[i] << 12) + off);
                                translations.incrementAndGet();
                            }
                            if (big) {
                                assertThat(r.dump()).singleElement().extracting(Mapping::size).isEqualTo(M2);
                                r.unlink(0, M2);
                            } else if (rnd.nextBoolean()) {
                                r.unlink(0, pages * K4);
                            } else {
                                continue; // close unlinks
                            }
                            // unlink is synchronous
                            assertThat(errorOf(() -> d.translate(initiator, probe, Access.READ))).isEqualTo(ErrorCode.EFAULT);
                        }
                        // physical mode at the same time
                        long pfn = m.firstPfn() + rnd.nextInt((int) m.pageCount());
                        FabricAddress[] fa = d.mapPfns(target, new long[] {pfn}, Prot.READ);
                        assertThat(d.translate(initiator, fa[0], Access.READ).phys()).isEqualTo(pfn << 12);
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : futures) {
                f.get(100, TimeUnit.SECONDS);
            }
            pool.shutdown();
            assertThat(translations.get()).isGreaterThan(THREADS * ROUNDS);
            for (int i = 0; i < 3; i++) {
                DeviceInfo after = devs[i].info();
                assertThat(after.iovaRanges()).as("ranges of %d", i).isEqualTo(before.get(i).iovaRanges());
                assertThat(after.mappedPages()).as("mapped pages of %d", i).isZero();
                // (table pages going back to the pool are checked by ReclaimSafetyTest)
                assertThat(after.grants()).as("grants of %d", i).isEqualTo(before.get(i).grants());
                assertThat(devs[i].dump()).isEmpty();
            }
        }
    }

    @Test
    void closeRacingCallsFailsSafely() throws Exception {
        for (int attempt = 0; attempt < 20; attempt++) {
            UalDevice dev = UalDevice.open("fake:");
            DeviceMemory m = dev.allocMemory(K4, 0);
            FabricAddress a = m.physical(0);
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong closedSeen = new AtomicLong();
            Thread worker = new Thread(() -> {
                while (!stop.get()) {
                    try {
                        dev.translate(0, a, Access.READ);
                        dev.info();
                    } catch (IllegalStateException e) {
                        closedSeen.incrementAndGet();
                        return;
                    }
                }
            });
            worker.start();
            Thread.sleep(2);
            int refused = 0;
            while (true) {
                try {
                    dev.close();
                    break;
                } catch (IllegalStateException busy) {
                    refused++; // another thread is inside a call: nothing was freed
                    assertThat(dev.isOpen()).isTrue();
                }
            }
            stop.set(true);
            worker.join();
            assertThat(dev.isOpen()).isFalse();
            dev.close(); // idempotent
            assertThat(refused).isGreaterThanOrEqualTo(0);
        }
    }
}
