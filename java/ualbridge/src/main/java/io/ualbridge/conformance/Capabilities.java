package io.ualbridge.conformance;

import java.util.Collections;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.ualbridge.DeviceInfo;
import io.ualbridge.DeviceMemory;
import io.ualbridge.ErrorCode;
import io.ualbridge.HostBuffer;
import io.ualbridge.IovaRange;
import io.ualbridge.Prot;
import io.ualbridge.UalDevice;
import io.ualbridge.UalException;

/**
 * What a backend can do, found from {@link UalDevice#info()} where it says so (modes, accelerators, page sizes)
 * and by probing where it does not: a probe counts a feature as absent only when the backend answers
 * {@code ENOTSUP} (any other error leaves the feature present, so the checks that use it run and fail loudly
 * instead of being skipped).
 *
 * @param present the capabilities the backend has
 * @param absent  each missing capability with the evidence ("info(): modes = physical")
 */
public record Capabilities(Set<Capability> present, Map<Capability, String> absent) {
    private static final Logger LOG = LoggerFactory.getLogger(Capabilities.class);

    /**
     * Copies the components.
     */
    public Capabilities {
        present = Collections.unmodifiableSet(present.isEmpty() ? EnumSet.noneOf(Capability.class)
                : EnumSet.copyOf(present));
        absent = Collections.unmodifiableMap(absent.isEmpty() ? new EnumMap<>(Capability.class)
                : new EnumMap<>(absent));
    }

    /**
     * Tells whether the backend has a capability.
     *
     * @param c the capability
     * @return true if present
     */
    public boolean has(Capability c) {
        return present.contains(c);
    }

    /**
     * Explains why a capability is missing.
     *
     * @param c the capability
     * @return the evidence, or null if it is present
     */
    public String whyAbsent(Capability c) {
        return absent.get(c);
    }

    /**
     * Finds the capabilities of the backend behind a handle. Probes create objects and release them before
     * returning.
     *
     * @param dev an open handle; left as it was found
     * @return the capabilities
     * @throws UalException if a probe fails with an error other than ENOTSUP in a way that leaves no answer
     */
    public static Capabilities probe(UalDevice dev) {
        DeviceInfo i = dev.info();
        EnumSet<Capability> present = EnumSet.noneOf(Capability.class);
        EnumMap<Capability, String> absent = new EnumMap<>(Capability.class);
        String modes = modes(i);
        decide(present, absent, Capability.MULTIPLE_ACCELERATORS, i.acceleratorCount() >= 2,
                "info(): the fabric has " + i.acceleratorCount() + " accelerator");
        decide(present, absent, Capability.PHYSICAL_MODE, i.supportsPhysical(), "info(): modes = " + modes);
        decide(present, absent, Capability.VIRTUAL_MODE, i.supportsVirtual(), "info(): modes = " + modes);
        decide(present, absent, Capability.BOTH_MODES, i.supportsPhysical() && i.supportsVirtual(),
                "info(): modes = " + modes);
        decide(present, absent, Capability.SINGLE_MODE, i.supportsPhysical() != i.supportsVirtual(),
                "info(): modes = " + modes);
        decide(present, absent, Capability.PAGES_2M, i.supportsVirtual() && (i.pageSizeBitmap() & (1L << 21)) != 0,
                i.supportsVirtual() ? "info(): page sizes " + i.pageSizes() : "info(): no virtual mode");
        decide(present, absent, Capability.PAGES_64K, i.supportsVirtual() && (i.pageSizeBitmap() & (1L << 16)) != 0,
                i.supportsVirtual() ? "info(): page sizes " + i.pageSizes() : "info(): no virtual mode");

        String why = probeHost(dev);
        decide(present, absent, Capability.HOST_REGISTRATION, why == null, why);
        why = probeCpu(dev);
        decide(present, absent, Capability.CPU_MEMORY_ACCESS, why == null, why);
        why = probeSecondHandle(dev);
        decide(present, absent, Capability.SECOND_HANDLE, why == null, why);
        why = i.supportsVirtual() ? probeAllocCount(dev) : "needs virtual mode to observe (info(): modes = " + modes + ")";
        decide(present, absent, Capability.ALLOCATION_COUNTER, why == null, why);
        Capabilities c = new Capabilities(present, absent);
        LOG.debug("{}: capabilities {}; absent {}", dev.uri(), present, absent);
        return c;
    }

    static String modes(DeviceInfo i) {
        if (i.supportsPhysical() && i.supportsVirtual()) {
            return "physical+virtual";
        }
        return i.supportsPhysical() ? "physical" : i.supportsVirtual() ? "virtual" : "none";
    }

    private static void decide(Set<Capability> present, Map<Capability, String> absent, Capability c, boolean has,
                               String why) {
        if (has) {
            present.add(c);
        } else {
            absent.put(c, why);
        }
    }

    private static String probeHost(UalDevice dev) {
        try (HostBuffer b = dev.allocateHostBuffer(4096)) {
            return null;
        } catch (UalException e) {
            return e.error() == ErrorCode.ENOTSUP ? "mem_register: " + e.detail() : null;
        }
    }

    private static String probeCpu(UalDevice dev) {
        try (DeviceMemory m = dev.allocMemory(4096, 0)) {
            dev.readMemory(m.physAddress(), 64);
            return null;
        } catch (UalException e) {
            return e.error() == ErrorCode.ENOTSUP ? e.operation() + ": " + e.detail() : null;
        }
    }

    private static String probeSecondHandle(UalDevice dev) {
        try (UalDevice second = dev.openPeer(dev.acceleratorId())) {
            return null;
        } catch (UalException e) {
            return "open_peer(" + dev.acceleratorId() + ") on accelerator " + dev.acceleratorId() + ": "
                    + e.error() + " " + e.detail();
        }
    }

    /** Links one page of a range without PREALLOC: taking a table page from the pool must count. */
    private static String probeAllocCount(UalDevice dev) {
        try (DeviceMemory m = dev.allocMemory(4096, 0); IovaRange r = dev.allocIova(4096, 0)) {
            long before = dev.allocCount();
            r.link(0, dev.acceleratorId(), m.pfns(), Prot.RW);
            long after = dev.allocCount();
            r.unlink(0, 4096);
            if (after == before) {
                return "alloc_count stayed " + before + " across an iova_link that took page-table pages";
            }
            return null;
        } catch (UalException e) {
            return e.error() == ErrorCode.ENOTSUP ? e.operation() + ": " + e.detail() : null;
        }
    }
}
