package io.ualbridge;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * A physically contiguous block of an accelerator's memory, from {@link UalDevice#allocMemory}. Closing it frees
 * the block ({@code ual_mem_free}); so does closing its device. Using it after either throws
 * {@link IllegalStateException}.
 */
public final class DeviceMemory implements AutoCloseable {
    private final UalDevice device;
    private final long pfn;
    private final long size;
    private volatile MemorySegment pfnSegment;
    private volatile boolean closed;

    DeviceMemory(UalDevice device, long pfn, long size) {
        this.device = device;
        this.pfn = pfn;
        this.size = size;
    }

    /**
     * Returns the first PFN of the block.
     *
     * @return the PFN, in the local accelerator's physical space
     * @throws IllegalStateException if the block or its device is closed
     */
    public long firstPfn() {
        ensureOpen();
        return pfn;
    }

    /**
     * Returns the physical address of the block's first byte ({@code firstPfn() << 12}).
     *
     * @return the physical address at the accelerator
     * @throws IllegalStateException if the block or its device is closed
     */
    public long physAddress() {
        ensureOpen();
        return pfn << Native.PAGE_SHIFT;
    }

    /**
     * Returns the size of the block.
     *
     * @return bytes
     * @throws IllegalStateException if the block or its device is closed
     */
    public long size() {
        ensureOpen();
        return size;
    }

    /**
     * Returns the number of 4 KiB pages of the block.
     *
     * @return {@code size() / 4096}
     * @throws IllegalStateException if the block or its device is closed
     */
    public long pageCount() {
        ensureOpen();
        return size >>> Native.PAGE_SHIFT;
    }

    /**
     * Returns the PFNs of the block's pages, one per page, ready for {@link IovaRange#link} or
     * {@link UalDevice#mapPfns}.
     *
     * @return a fresh array {@code firstPfn(), firstPfn() + 1, ...}
     * @throws IllegalStateException if the block or its device is closed
     */
    public long[] pfns() {
        return pfnSegment().toArray(ValueLayout.JAVA_LONG);
    }

    /**
     * Returns the PFNs of the block's pages as read-only native memory (64-bit values), for the zero-copy forms
     * of {@link IovaRange#link(long, int, MemorySegment, long, int)} and
     * {@link UalDevice#mapPfns(int, MemorySegment, long, int, MemorySegment)}. The segment stays valid as long as
     * it is reachable.
     *
     * @return the PFN segment, {@code pageCount() * 8} bytes
     * @throws IllegalStateException if the block or its device is closed
     */
    public MemorySegment pfnSegment() {
        ensureOpen();
        MemorySegment seg = pfnSegment;
        if (seg == null) {
            long n = size >>> Native.PAGE_SHIFT;
            MemorySegment s = Arena.ofAuto().allocate(ValueLayout.JAVA_LONG, n);
            for (long i = 0; i < n; i++) {
                s.setAtIndex(ValueLayout.JAVA_LONG, i, pfn + i);
            }
            seg = s.asReadOnly();
            pfnSegment = seg;
        }
        return seg;
    }

    /**
     * Writes bytes into the block through the device's BAR.
     *
     * @param offset byte offset into the block
     * @param data   the bytes; {@code [offset, offset + data.length)} must lie in the block
     * @throws IndexOutOfBoundsException if the bytes do not fit the block
     * @throws IllegalStateException     if the block or its device is closed
     */
    public void write(long offset, byte[] data) {
        ensureOpen();
        Objects.checkFromIndexSize(offset, data.length, size);
        device.writeMemory((pfn << Native.PAGE_SHIFT) + offset, data);
    }

    /**
     * Reads bytes of the block through the device's BAR.
     *
     * @param offset byte offset into the block
     * @param len    bytes; {@code [offset, offset + len)} must lie in the block
     * @return the bytes
     * @throws IndexOutOfBoundsException if the range does not fit the block
     * @throws IllegalStateException     if the block or its device is closed
     */
    public byte[] read(long offset, int len) {
        ensureOpen();
        Objects.checkFromIndexSize(offset, len, size);
        return device.readMemory((pfn << Native.PAGE_SHIFT) + offset, len);
    }

    /**
     * Returns the routed physical-mode fabric address of a byte of the block.
     *
     * @param offset byte offset into the block
     * @return the address routed to the block's accelerator
     * @throws IndexOutOfBoundsException if {@code offset} is outside the block
     * @throws IllegalStateException     if the block or its device is closed
     */
    public FabricAddress physical(long offset) {
        ensureOpen();
        Objects.checkIndex(offset, size);
        return FabricAddress.physical(device.acceleratorId(), (pfn << Native.PAGE_SHIFT) + offset);
    }

    /**
     * Frees the block. Like the kernel's DMA API, mappings or grants of it are not looked for: requests that
     * still reach it see zeros or later data. Idempotent; a no-op once the device is closed (which freed it).
     *
     * @throws UalException          if libual refuses the free (the block stays open)
     * @throws IllegalStateException if the device is being used by another thread's close
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        try {
            device.freeMemory(pfn, size);
        } catch (IllegalStateException e) {
            if (device.isOpen()) {
                throw e;
            }
        }
        closed = true;
    }

    @Override
    public String toString() {
        return String.format("DeviceMemory[accel=%d pfn=0x%x size=%d%s]", device.acceleratorId(), pfn, size,
                closed || !device.isOpen() ? " closed" : "");
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("device memory closed");
        }
        device.ensureOpen();
    }
}
