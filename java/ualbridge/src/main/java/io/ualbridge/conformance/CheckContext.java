package io.ualbridge.conformance;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

import io.ualbridge.DeviceInfo;
import io.ualbridge.DeviceMemory;
import io.ualbridge.ErrorCode;
import io.ualbridge.FabricAddress;
import io.ualbridge.Fault;
import io.ualbridge.FaultBatch;
import io.ualbridge.FaultReason;
import io.ualbridge.IovaRange;
import io.ualbridge.Mapping;
import io.ualbridge.UalDevice;
import io.ualbridge.UalException;

/**
 * What a check works with: a fresh device opened from the URI, handles on other accelerators opened on demand,
 * objects closed when the check ends, and helpers that turn unexpected outcomes into {@link CheckFailure}s.
 *
 * <p>Checks see only the public API. They must not assume the fabric is theirs alone (a kernel backend has one
 * fabric per loaded module), so they compare counters before and after rather than with absolute values, and
 * the fault rings they read are drained when the context opens them.
 */
public final class CheckContext implements AutoCloseable {
    /** Bytes of a page. */
    public static final long K4 = 4096;
    /** 64 KiB. */
    public static final long K64 = 64 * 1024;
    /** 2 MiB. */
    public static final long M2 = 2L << 20;
    /** UAL_HOST_BASE: registered host pages live at physical addresses from here (bit 56). */
    public static final long HOST_BASE = 1L << 56;

    private final UalDevice dev;
    private final DeviceInfo info;
    private final Capabilities caps;
    private final Map<Integer, UalDevice> peers = new TreeMap<>();
    private final Deque<AutoCloseable> resources = new ArrayDeque<>();

    CheckContext(UalDevice dev, Capabilities caps) {
        this.dev = dev;
        this.caps = caps;
        drainFaults(dev);
        this.info = dev.info();
    }

    /** @return the check's device, opened from the URI */
    public UalDevice dev() {
        return dev;
    }

    /** @return the device's info when the check started */
    public DeviceInfo info() {
        return info;
    }

    /** @return the backend's capabilities */
    public Capabilities caps() {
        return caps;
    }

    /** @return the device's accelerator */
    public int local() {
        return info.acceleratorId();
    }

    /** @return accelerators in the fabric */
    public int count() {
        return info.acceleratorCount();
    }

    /** @return an accelerator other than the local one (the next one), or the local one in a fabric of one */
    public int other() {
        return (local() + 1) % count();
    }

    /**
     * Returns a handle on an accelerator: the check's device for the local one, else a peer opened (and its
     * fault ring drained) on first use and closed when the check ends.
     *
     * @param accel the accelerator
     * @return the handle
     */
    public UalDevice on(int accel) {
        if (accel == local()) {
            return dev;
        }
        return peers.computeIfAbsent(accel, a -> {
            UalDevice p = dev.openPeer(a);
            drainFaults(p);
            return p;
        });
    }

    /**
     * Closes an object when the check ends (before the peers and the device).
     *
     * @param r the object
     * @param <T> its type
     * @return {@code r}
     */
    public <T extends AutoCloseable> T track(T r) {
        resources.push(r);
        return r;
    }

    /**
     * Allocates device memory of an accelerator, closed when the check ends.
     *
     * @param accel the accelerator
     * @param size  bytes
     * @param align alignment (0 = 4 KiB)
     * @return the block
     */
    public DeviceMemory mem(int accel, long size, long align) {
        long total = on(accel).info().memorySize();
        if (size > total) {
            // a device with little memory (vfio: a 4 KiB DMA buffer) cannot host the check at all
            throw new CheckSkipped("needs " + size + " bytes of device memory; accelerator " + accel + " has "
                    + total);
        }
        return track(on(accel).allocMemory(size, align));
    }

    /**
     * Like {@link #mem(int, long, long)} but skips the check when the accelerator has not that much memory.
     *
     * @param accel the accelerator
     * @param size  bytes
     * @param align alignment
     * @return the block
     * @throws CheckSkipped on ENOMEM
     */
    public DeviceMemory memOrSkip(int accel, long size, long align) {
        try {
            return mem(accel, size, align);
        } catch (UalException e) {
            if (e.error() == ErrorCode.ENOMEM) {
                throw new CheckSkipped("accelerator " + accel + " has no free " + size + "-byte block aligned to "
                        + align + " (" + on(accel).info().memoryFree() + " bytes free)");
            }
            throw e;
        }
    }

    /**
     * Allocates an IOVA range in an accelerator's domain, closed when the check ends.
     *
     * @param accel the accelerator
     * @param size  bytes
     * @param flags 0 or {@link IovaRange#PREALLOC}
     * @return the range
     */
    public IovaRange range(int accel, long size, int flags) {
        return track(on(accel).allocIova(size, flags));
    }

    /**
     * Returns an address by which an initiator reaches a page of a target: routed if the fabric has physical
     * mode, else an IOVA of a one-page range linked (and synced) in the initiator's domain.
     *
     * @param initiator the initiator
     * @param target    the target
     * @param pfn       the page
     * @param prot      protection of the mapping (virtual mode only)
     * @return the address of the page's first byte
     */
    public FabricAddress reach(int initiator, int target, long pfn, int prot) {
        if (caps.has(Capability.PHYSICAL_MODE)) {
            return FabricAddress.physical(target, pfn << 12);
        }
        IovaRange r = range(initiator, K4, 0);
        r.link(0, target, new long[] {pfn}, prot);
        r.sync();
        return r.address(0);
    }

    /**
     * Brings the local domain's page tables to their steady state: links and unlinks one page so that tables a
     * domain keeps for good once used (its root) are allocated before a check compares pool counters.
     */
    public void warmDomain() {
        if (!caps.has(Capability.VIRTUAL_MODE)) {
            return;
        }
        try (DeviceMemory m = dev.allocMemory(K4, 0); IovaRange r = dev.allocIova(K4, 0)) {
            r.link(0, local(), m.pfns(), io.ualbridge.Prot.READ);
            r.unlink(0, K4);
        }
    }

    /**
     * Size of a range that spans a 2 MiB boundary in its middle where the domain is large enough (4 MiB), else
     * half the domain.
     *
     * @return bytes
     */
    public long spanningRangeSize() {
        return info.dmaBits() >= 23 ? 2 * M2 : 1L << (info.dmaBits() - 1);
    }

    /**
     * Fails the check unless a condition holds.
     *
     * @param ok     the condition
     * @param format message format, {@link String#format}
     * @param args   its arguments
     * @throws CheckFailure if {@code ok} is false
     */
    public void expect(boolean ok, String format, Object... args) {
        if (!ok) {
            throw new CheckFailure(String.format(format, args));
        }
    }

    /**
     * Fails the check unless two values are equal.
     *
     * @param what     what is compared
     * @param actual   the backend's value
     * @param expected what the ABI says
     */
    public void expectEqual(String what, Object actual, Object expected) {
        if (!Objects.equals(actual, expected)) {
            throw new CheckFailure(what + ": got " + show(actual) + ", expected " + show(expected));
        }
    }

    private static String show(Object o) {
        if (o instanceof Long l && (l > 4096 || l < 0)) {
            return "0x" + Long.toHexString(l);
        }
        return String.valueOf(o);
    }

    /** An action expected to fail. */
    @FunctionalInterface
    public interface Action {
        /**
         * Runs the action.
         *
         * @throws Exception anything
         */
        void run() throws Exception;
    }

    /**
     * Runs an action that must fail with a code and a message.
     *
     * @param what     what the action does, for the failure message
     * @param expected the documented error
     * @param action   the action
     * @return the exception
     * @throws CheckFailure if it succeeded, failed otherwise, or left no message
     */
    public UalException expectError(String what, ErrorCode expected, Action action) {
        try {
            action.run();
        } catch (UalException e) {
            if (e.error() != expected) {
                throw new CheckFailure(what + ": expected " + expected + ", got " + e.error() + " (" + e.getMessage()
                        + ")", e);
            }
            if (e.detail() == null || e.detail().isBlank()) {
                throw new CheckFailure(what + ": " + expected + " without a message (ual_last_error empty)");
            }
            return e;
        } catch (Exception e) {
            throw new CheckFailure(what + ": expected " + expected + ", got " + e, e);
        }
        throw new CheckFailure(what + ": expected " + expected + ", but it succeeded");
    }

    /**
     * Drains every fault record of a handle's accelerator.
     *
     * @param d the handle
     * @return the records, oldest first, and the lost count summed over the reads
     */
    public static FaultBatch drainFaults(UalDevice d) {
        List<Fault> all = new ArrayList<>();
        long lost = 0;
        while (true) {
            FaultBatch b = d.readFaults(256);
            all.addAll(b.faults());
            lost += b.lost();
            if (b.faults().size() < 256) {
                return new FaultBatch(all, lost);
            }
        }
    }

    /**
     * Drains an accelerator's fault ring and expects exactly one record, with a reason.
     *
     * @param accel  the accelerator whose ring is read
     * @param reason the expected reason
     * @return the record
     */
    public Fault expectOneFault(int accel, FaultReason reason) {
        FaultBatch b = drainFaults(on(accel));
        expect(b.faults().size() == 1 && b.lost() == 0, "accelerator %d's fault ring: expected one %s record, got %s "
                + "(lost %d)", accel, reason, b.faults(), b.lost());
        Fault f = b.faults().get(0);
        expectEqual("reason of the fault on accelerator " + accel, f.reason(), reason);
        return f;
    }

    /**
     * Expects an accelerator's fault ring to be empty (drains it).
     *
     * @param accel the accelerator
     * @param after what was just done
     */
    public void expectNoFault(int accel, String after) {
        FaultBatch b = drainFaults(on(accel));
        expect(b.faults().isEmpty() && b.lost() == 0, "after %s accelerator %d recorded faults %s (lost %d)", after,
                accel, b.faults(), b.lost());
    }

    /** The state a failing call must not change: the domain's page tables and the counters of info(). */
    public record State(int accel, List<Mapping> dump, long memoryFree, long ptPoolFree, long iovaRanges,
                        long mappedPages, long grants) {
    }

    /**
     * Captures the state of accelerators.
     *
     * @param accels the accelerators (handles opened as needed)
     * @return their states
     */
    public List<State> state(int... accels) {
        List<State> s = new ArrayList<>();
        for (int a : accels) {
            UalDevice d = on(a);
            DeviceInfo i = d.info();
            s.add(new State(a, d.dump(), i.memoryFree(), i.ptPoolFree(), i.iovaRanges(), i.mappedPages(), i.grants()));
        }
        return s;
    }

    /**
     * Fails unless the state equals an earlier capture.
     *
     * @param before the capture
     * @param after  what was done in between
     */
    public void expectUnchanged(List<State> before, String after) {
        int[] accels = before.stream().mapToInt(State::accel).toArray();
        List<State> now = state(accels);
        for (int i = 0; i < now.size(); i++) {
            State b = before.get(i), n = now.get(i);
            if (!b.equals(n)) {
                throw new CheckFailure(after + " changed accelerator " + b.accel() + ": " + diff(b, n));
            }
        }
    }

    private static String diff(State b, State n) {
        List<String> d = new ArrayList<>();
        if (!b.dump().equals(n.dump())) {
            d.add("page tables " + b.dump().size() + " -> " + n.dump().size() + " entries");
        }
        if (b.memoryFree() != n.memoryFree()) {
            d.add("memoryFree " + b.memoryFree() + " -> " + n.memoryFree());
        }
        if (b.ptPoolFree() != n.ptPoolFree()) {
            d.add("ptPoolFree " + b.ptPoolFree() + " -> " + n.ptPoolFree());
        }
        if (b.iovaRanges() != n.iovaRanges()) {
            d.add("iovaRanges " + b.iovaRanges() + " -> " + n.iovaRanges());
        }
        if (b.mappedPages() != n.mappedPages()) {
            d.add("mappedPages " + b.mappedPages() + " -> " + n.mappedPages());
        }
        if (b.grants() != n.grants()) {
            d.add("grants " + b.grants() + " -> " + n.grants());
        }
        return String.join(", ", d);
    }

    /**
     * Skips the check.
     *
     * @param reason why it cannot run here
     * @return never returns (declared so callers can {@code throw c.skip(...)})
     * @throws CheckSkipped always
     */
    public CheckSkipped skip(String reason) {
        throw new CheckSkipped(reason);
    }

    /** Closes tracked objects (newest first), then peers, then the device; rethrows the first error. */
    @Override
    public void close() {
        RuntimeException first = null;
        while (!resources.isEmpty()) {
            try {
                resources.pop().close();
            } catch (Exception e) {
                first = first != null ? first : e instanceof RuntimeException r ? r : new IllegalStateException(e);
            }
        }
        for (UalDevice p : peers.values()) {
            try {
                p.close();
            } catch (RuntimeException e) {
                first = first != null ? first : e;
            }
        }
        peers.clear();
        try {
            dev.close();
        } catch (RuntimeException e) {
            first = first != null ? first : e;
        }
        if (first != null) {
            throw first;
        }
    }
}
