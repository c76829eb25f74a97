package io.ualbridge;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.ualbridge.internal.UalNative;

/**
 * A registered (pinned) host buffer whose pages are PFNs of an accelerator's host aperture, from
 * {@link UalDevice#register} or {@link UalDevice#allocateHostBuffer}. Closing it unregisters the buffer and, if
 * the buffer allocated the memory itself, frees it. Using it after close, or after its device closed, throws
 * {@link IllegalStateException}.
 *
 * <p>Only its device's handle reaches the buffer: local requests (initiator = its accelerator) issued through
 * another handle are refused ({@code EACCES}), and other accelerators need a grant. While a page is linked in an
 * IOVA range or granted, the buffer cannot be unregistered: {@link #close()} throws {@code EBUSY} and the buffer
 * stays open, so unlink (or close the range) and revoke first. Closing the device releases everything.
 */
public final class HostBuffer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(HostBuffer.class);

    private final UalDevice device;
    private final MemorySegment segment;
    private final MemorySegment pfnSegment;
    /** The arena of memory this buffer allocated itself, or null for a caller's segment. */
    private final Arena own;
    private boolean registered = true;
    private volatile boolean closed;

    private HostBuffer(UalDevice device, MemorySegment segment, MemorySegment pfnSegment, Arena own) {
        this.device = device;
        this.segment = segment;
        this.pfnSegment = pfnSegment;
        this.own = own;
    }

    static HostBuffer register(UalDevice device, MemorySegment seg, Arena own) {
        if (!seg.isNative()) {
            throw new IllegalArgumentException("a host buffer must be native memory");
        }
        long n = seg.byteSize() >>> Native.PAGE_SHIFT;
        MemorySegment pfns = Arena.ofAuto().allocate(ValueLayout.JAVA_LONG, Math.max(n, 1));
        Native.check(UalNative.ual_mem_register(device.handle(), seg, seg.byteSize(), pfns), "mem_register");
        HostBuffer hb = new HostBuffer(device, seg, pfns.asSlice(0, n * Long.BYTES).asReadOnly(), own);
        if (own != null) {
            device.track(hb, hb::deviceClosed);
        }
        LOG.debug("accelerator {}: registered {} host bytes at 0x{} as pfn 0x{}", device.acceleratorId(),
                seg.byteSize(), Long.toHexString(seg.address()), n == 0 ? "-" : Long.toHexString(pfns.get(ValueLayout.JAVA_LONG, 0)));
        return hb;
    }

    /**
     * Returns the buffer's memory.
     *
     * @return the registered segment
     * @throws IllegalStateException if the buffer or its device is closed
     */
    public MemorySegment segment() {
        ensureOpen();
        return segment;
    }

    /**
     * Returns the PFNs of the buffer's pages, one per 4 KiB page.
     *
     * @return a fresh array
     * @throws IllegalStateException if the buffer or its device is closed
     */
    public long[] pfns() {
        ensureOpen();
        return pfnSegment.toArray(ValueLayout.JAVA_LONG);
    }

    /**
     * Returns the PFNs of the buffer's pages as read-only native memory (64-bit values), for the zero-copy forms
     * of link and mapPfns. The segment stays valid as long as it is reachable.
     *
     * @return the PFN segment
     * @throws IllegalStateException if the buffer or its device is closed
     */
    public MemorySegment pfnSegment() {
        ensureOpen();
        return pfnSegment;
    }

    /**
     * Returns the buffer's size.
     *
     * @return bytes
     * @throws IllegalStateException if the buffer or its device is closed
     */
    public long size() {
        ensureOpen();
        return segment.byteSize();
    }

    /**
     * Returns the accelerator in whose host aperture the buffer appears (its device's local accelerator).
     *
     * @return the accelerator id
     * @throws IllegalStateException if the buffer or its device is closed
     */
    public int accelerator() {
        ensureOpen();
        return device.acceleratorId();
    }

    /**
     * Returns the routed fabric address of a byte of the buffer: its page's host-aperture address at the local
     * accelerator.
     *
     * @param offset byte offset into the buffer
     * @return the physical-mode address
     * @throws IndexOutOfBoundsException if {@code offset} is outside the buffer
     * @throws IllegalStateException     if the buffer or its device is closed
     */
    public FabricAddress physical(long offset) {
        ensureOpen();
        Objects.checkIndex(offset, segment.byteSize());
        long pfn = pfnSegment.getAtIndex(ValueLayout.JAVA_LONG, offset >>> Native.PAGE_SHIFT);
        return FabricAddress.physical(device.acceleratorId(),
                (pfn << Native.PAGE_SHIFT) + (offset & (Native.PAGE_SIZE - 1)));
    }

    /**
     * Unregisters the buffer; frees its memory if it allocated it. Idempotent. After the device closed (which
     * unregistered it), only frees the memory.
     *
     * @throws UalException          {@code EBUSY} if a page of the buffer is still linked in an IOVA range or
     *                               granted: nothing changed, the buffer stays registered and open (its memory is
     *                               not freed); unlink and revoke, then close again
     * @throws IllegalStateException if the memory is in use by a call in another thread (it stays allocated
     *                               until close is retried)
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        if (registered) {
            try {
                Native.check(UalNative.ual_mem_unregister(device.handle(), segment), "mem_unregister");
            } catch (UalException e) {
                LOG.debug("accelerator {}: host buffer at 0x{} stays registered: {}", device.acceleratorId(),
                        Long.toHexString(segment.address()), e.getMessage());
                throw e;
            } catch (IllegalStateException e) {
                if (device.isOpen()) {
                    throw e;
                }
            }
            registered = false;
        }
        if (own != null && own.scope().isAlive()) {
            own.close();
        }
        closed = true;
        device.untrack(this);
    }

    /** The device closed: libual unregistered the buffer; free memory we own. */
    private synchronized void deviceClosed() {
        registered = false;
        if (own != null && own.scope().isAlive()) {
            try {
                own.close();
            } catch (IllegalStateException e) {
                LOG.warn("host buffer memory in use while its device closed; it stays allocated until the buffer "
                        + "is closed", e);
                return;
            }
        }
        closed = true;
    }

    @Override
    public String toString() {
        return String.format("HostBuffer[accel=%d addr=0x%x size=%d%s]", device.acceleratorId(), segment.address(),
                segment.byteSize(), closed || !device.isOpen() ? " closed" : "");
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("host buffer closed");
        }
        device.ensureOpen();
    }
}
