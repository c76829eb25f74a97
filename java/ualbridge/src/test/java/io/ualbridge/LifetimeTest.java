package io.ualbridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/**
 * Lifetime safety: objects closed while other threads are inside calls on them, or used after close. Every
 * outcome must be a Java exception ({@link IllegalStateException} for a closed object, {@link UalException} for a
 * libual refusal), never a crash, a hang or a use-after-free in the shim. {@code scripts/test-asan-java} runs this
 * class with libual built under AddressSanitizer, where a use-after-free aborts the JVM.
 */
class LifetimeTest {
    static final long K4 = 4096;
    static final long TIMEOUT_S = 60;

    private ExecutorService pool;
    /** Anything a worker threw that is not an allowed exception. */
    private final ConcurrentLinkedQueue<Throwable> unexpected = new ConcurrentLinkedQueue<>();

    @BeforeEach
    void start() {
        pool = Executors.newCachedThreadPool();
    }

    @AfterEach
    void stop() throws InterruptedException {
        pool.shutdownNow();
        assertThat(pool.awaitTermination(TIMEOUT_S, TimeUnit.SECONDS)).as("workers ended").isTrue();
        assertThat(unexpected).as("unexpected exceptions in workers").isEmpty();
    }

    /** Runs {@code body} until it throws IllegalStateException (its object closed) or {@code stop} is set. */
    private Future<Long> loop(AtomicBoolean stop, CountDownLatch started, ThrowingRunnable body) {
        return pool.submit(() -> {
            long calls = 0;
            started.countDown();
            while (!stop.get()) {
                try {
                    body.run();
                    calls++;
                } catch (IllegalStateException e) {
                    return calls;   // closed under us: the expected end
                } catch (UalException e) {
                    calls++;        // a refusal is a fine answer (e.g. range freed: ENOENT)
                } catch (Throwable t) {
                    unexpected.add(t);
                    return calls;
                }
            }
            return calls;
        });
    }

    @FunctionalInterface
    interface ThrowingRunnable {
        void run() throws Exception;
    }

    /** Closes {@code c} as soon as no call is inside it: retries while close reports a call in flight. */
    private static int closeWhenPossible(AutoCloseable c) throws Exception {
        int refusals = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_S);
        while (true) {
            try {
                c.close();
                return refusals;
            } catch (IllegalStateException e) {
                refusals++;
                assertThat(System.nanoTime()).as("close kept failing: " + e.getMessage()).isLessThan(deadline);
                Thread.onSpinWait();
            }
        }
    }

    private static long sum(List<Future<Long>> fs) throws Exception {
        long n = 0;
        for (Future<Long> f : fs) {
            n += f.get(TIMEOUT_S, TimeUnit.SECONDS);
        }
        return n;
    }

    @RepeatedTest(3)
    void closingADeviceWhileOtherThreadsCallIntoIt() throws Exception {
        UalDevice d = UalDevice.open("fake:?accels=2&mem=16M");
        UalDevice peer = d.openPeer(1);
        DeviceMemory mem = d.allocMemory(64 * K4, 0);
        IovaRange r = d.allocIova(64 * K4, IovaRange.PREALLOC);
        HostBuffer hb = d.allocateHostBuffer(4 * K4);
        long[] pfns = mem.pfns();
        FabricAddress memAddr = mem.physical(0);
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch started = new CountDownLatch(6);
        List<Future<Long>> workers = new ArrayList<>();
        workers.add(loop(stop, started, d::info));
        workers.add(loop(stop, started, () -> {
            r.link(0, 0, new long[] {pfns[1], pfns[3]}, Prot.RW);
            r.sync(0, 2 * K4);
            r.unlink(0, 2 * K4);
        }));
        workers.add(loop(stop, started, () -> d.translate(0, r.address(0), Access.READ)));
        workers.add(loop(stop, started, () -> mem.write(128, new byte[] {1, 2, 3})));
        workers.add(loop(stop, started, () -> d.copy(0, hb.physical(0), mem.physical(0), 256)));
        workers.add(loop(stop, started, () -> d.mapPfns(0, pfns, Prot.READ)));
        started.await();
        Thread.sleep(50);
        int refusals = closeWhenPossible(d);
        long calls = sum(workers);

        assertThat(d.isOpen()).isFalse();
        assertThat(calls).isPositive();
        // Everything of the handle went with it; its peer lives on and sees nothing left of accelerator 0.
        assertThat(peer.isOpen()).isTrue();
        assertThatThrownBy(() -> peer.translate(1, memAddr, Access.READ))
                .isInstanceOf(UalException.class);
        assertThatThrownBy(() -> r.link(0, 0, pfns, Prot.READ)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> mem.read(0, 8)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(hb::segment).isInstanceOf(IllegalStateException.class);
        r.close();      // no-ops: the device freed them
        mem.close();
        hb.close();
        peer.close();
        System.out.printf("close under load: %d calls, close refused %d time(s) while a call was inside%n", calls,
                refusals);
    }

    @RepeatedTest(3)
    void freeingARangeWhileAnotherThreadLinksIntoIt() throws Exception {
        try (UalDevice d = UalDevice.open("fake:?accels=2&mem=16M");
                DeviceMemory mem = d.allocMemory(2 << 20, 2 << 20)) {
            long[] pfns = mem.pfns();
            for (int round = 0; round < 20; round++) {
                IovaRange r = d.allocIova(2 << 20, round % 2 == 0 ? IovaRange.PREALLOC : 0);
                AtomicBoolean stop = new AtomicBoolean();
                AtomicLong linked = new AtomicLong();
                CountDownLatch started = new CountDownLatch(2);
                List<Future<Long>> ws = List.of(
                        loop(stop, started, () -> {
                            r.link(0, 0, java.util.Arrays.copyOf(pfns, 16), Prot.READ);
                            linked.incrementAndGet();
                            r.unlink(0, 16 * K4);
                        }),
                        loop(stop, started, () -> {
                            r.link(64 * K4, 0, java.util.Arrays.copyOf(pfns, 4), 0); // bad prot: refused
                        }));
                started.await();
                // Close races the links: it unlinks what it finds and frees, or reports the range busy.
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_S);
                while (true) {
                    try {
                        r.close();
                        break;
                    } catch (UalException e) {
                        assertThat(e.error()).isIn(ErrorCode.EBUSY, ErrorCode.ENOENT);
                    } catch (IllegalStateException e) {
                        // a call of this range is in flight
                    }
                    assertThat(System.nanoTime()).isLessThan(deadline);
                }
                stop.set(true);
                sum(ws);
                assertThatThrownBy(() -> r.link(0, 0, pfns, Prot.READ)).isInstanceOf(IllegalStateException.class);
                assertThatThrownBy(r::sync).isInstanceOf(IllegalStateException.class);
                // A link racing the free either failed (ENOENT) or was unlinked by close: nothing is left.
                DeviceInfo info = d.info();
                assertThat(info.iovaRanges()).isZero();
                assertThat(info.mappedPages()).isZero();
            }
        }
    }

    @Test
    void closingAHostBufferWhileCopiesWriteIntoIt() throws Exception {
        try (UalDevice d = UalDevice.open("fake:?accels=2&mem=16M");
                DeviceMemory mem = d.allocMemory(16 * K4, 0)) {
            byte[] data = new byte[4096];
            java.util.Arrays.fill(data, (byte) 0x5a);
            mem.write(0, data);
            for (int round = 0; round < 30; round++) {
                HostBuffer hb = d.allocateHostBuffer(4 * K4);
                FabricAddress dst = hb.physical(K4);
                AtomicBoolean stop = new AtomicBoolean();
                AtomicLong copied = new AtomicLong();
                CountDownLatch started = new CountDownLatch(2);
                List<Future<Long>> ws = List.of(
                        loop(stop, started, () -> {
                            d.copy(0, dst, mem.physical(0), 4096);
                            copied.incrementAndGet();
                        }),
                        loop(stop, started, () -> d.translate(0, dst, Access.WRITE)));
                started.await();
                // Unregister, then free: a copy after the unregistration faults (EFAULT), never writes freed memory.
                closeWhenPossible(hb);
                Thread.sleep(2);
                stop.set(true);
                sum(ws);
                assertThatThrownBy(() -> d.copy(0, dst, mem.physical(0), 256))
                        .isInstanceOfSatisfying(UalException.class, e -> assertThat(e.error()).isEqualTo(ErrorCode.EFAULT));
                assertThatThrownBy(hb::segment).isInstanceOf(IllegalStateException.class);
            }
            d.readFaults(1024);
        }
    }

    @Test
    void closingAPeerWhileTheOtherReachesItsMemory() throws Exception {
        UalDevice a = UalDevice.open("fake:?accels=2&mem=16M");
        UalDevice b = a.openPeer(1);
        DeviceMemory mem = a.allocMemory(16 * K4, 0);
        DeviceMemory mine = b.allocMemory(16 * K4, 0);
        a.grant(0, 1, mem.firstPfn(), 16, Prot.READ);
        FabricAddress src = mem.physical(0);
        FabricAddress dst = mine.physical(0);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong refused = new AtomicLong();
        CountDownLatch started = new CountDownLatch(1);
        Future<Long> w = pool.submit(() -> {
            long ok = 0;
            started.countDown();
            while (!stop.get()) {
                try {
                    b.copy(1, dst, src, 1024);
                    ok++;
                } catch (UalException e) {
                    refused.incrementAndGet();  // a's grants died with a
                    if (e.error() != ErrorCode.EACCES) {
                        unexpected.add(e);
                    }
                } catch (Throwable t) {
                    unexpected.add(t);
                    return ok;
                }
            }
            return ok;
        });
        started.await();
        Thread.sleep(20);
        closeWhenPossible(a);
        Thread.sleep(20);
        stop.set(true);
        long ok = w.get(TIMEOUT_S, TimeUnit.SECONDS);
        assertThat(ok).isPositive();
        assertThat(refused.get()).isPositive();
        assertThat(b.isOpen()).isTrue();
        b.readFaults(4096);
        b.close();
        assertThatThrownBy(() -> b.copy(1, dst, src, 64))
                .isInstanceOf(IllegalStateException.class);
    }

    @Test
    void everyObjectAfterItsDeviceClosedThrows() {
        UalDevice d = UalDevice.open("fake:?accels=2");
        DeviceMemory mem = d.allocMemory(4 * K4, 0);
        IovaRange r = d.allocIova(4 * K4, 0);
        HostBuffer hb = d.allocateHostBuffer(K4);
        r.link(0, 0, mem.pfns(), Prot.RW);
        d.close();
        List<ThrowingRunnable> calls = List.of(
                () -> r.link(0, 0, new long[] {0}, Prot.READ), () -> r.sync(), () -> r.unlink(0, K4), r::dump,
                () -> mem.write(0, new byte[1]), () -> mem.read(0, 1), hb::segment, hb::pfns,
                () -> d.translate(0, FabricAddress.iova(r.iova()), Access.READ), d::info,
                () -> d.copy(0, mem.physical(0), mem.physical(64), 64));
        for (ThrowingRunnable c : calls) {
            assertThatThrownBy(c::run).isInstanceOf(IllegalStateException.class);
        }
        // Closing children after their device is a no-op, twice.
        r.close();
        r.close();
        mem.close();
        hb.close();
        d.close();
    }
}
