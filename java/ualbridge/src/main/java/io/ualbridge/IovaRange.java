package io.ualbridge;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Objects;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.ualbridge.internal.UalNative;

/**
 * An IOVA range of a device's fabric domain, from {@link UalDevice#allocIova}: the two-step DMA API
 * (link, sync, unlink). Closing it unlinks what is still linked and frees it; so does closing its device. Using
 * it after either throws {@link IllegalStateException}.
 */
public final class IovaRange implements AutoCloseable {
    /**
     * Flag for {@link UalDevice#allocIova}: reserve every page-table page the range can need at allocation, so
     * that link and unlink on it never allocate memory (the reclaim-safe contract).
     */
    public static final int PREALLOC = 1;

    private static final Logger LOG = LoggerFactory.getLogger(IovaRange.class);

    private final UalDevice device;
    private final long iova;
    private final long size;
    private volatile boolean closed;

    IovaRange(UalDevice device, long iova, long size) {
        this.device = device;
        this.iova = iova;
        this.size = size;
    }

    /**
     * Returns the first IOVA of the range.
     *
     * @return the IOVA
     * @throws IllegalStateException if the range or its device is closed
     */
    public long iova() {
        ensureOpen();
        return iova;
    }

    /**
     * Returns the size of the range.
     *
     * @return bytes
     * @throws IllegalStateException if the range or its device is closed
     */
    public long size() {
        ensureOpen();
        return size;
    }

    /**
     * Installs translations: page {@code i} maps at {@code iova() + offset + i * 4096}. 2 MiB and 64 KiB entries
     * are used where IOVA and PFNs line up. Initiators whose TLB caches the old state do not see them until
     * {@link #sync}. All or nothing.
     *
     * @param offset byte offset into the range, 4 KiB aligned
     * @param target accelerator owning the pages
     * @param pfns   PFNs of the target, non-empty
     * @param prot   {@link Prot} of the mappings, non-zero
     * @throws UalException          {@code EINVAL} for bad alignment, no PFNs or bad prot, {@code ERANGE} past the
     *                               range or for a PFN outside the target's memory, {@code EOVERFLOW},
     *                               {@code ENODEV} for an unknown target, {@code EBUSY} if a page is linked,
     *                               {@code ENOMEM} if the page-table pool is exhausted
     * @throws IllegalStateException if the range or its device is closed
     */
    public void link(long offset, int target, long[] pfns, int prot) {
        Objects.requireNonNull(pfns, "pfns");
        ensureOpen();
        // Small batches go straight from the array (critical call, no copy); big ones are staged.
        MemorySegment seg = pfns.length <= FastPath.CRITICAL_MAX_PAGES ? MemorySegment.ofArray(pfns)
                : Native.stageLongs(pfns);
        Native.check(FastPath.iovaLink(device.handle(), iova, offset, target, seg, pfns.length, prot), "iova_link");
    }

    /**
     * Zero-copy form of {@link #link(long, int, long[], int)}: reads {@code n} 64-bit PFNs from native memory.
     *
     * @param offset byte offset into the range, 4 KiB aligned
     * @param target accelerator owning the pages
     * @param pfns   native memory holding at least {@code n} PFNs
     * @param n      pages, non-zero
     * @param prot   {@link Prot} of the mappings, non-zero
     * @throws IllegalArgumentException  if {@code n} is negative or {@code pfns} is not native
     * @throws IndexOutOfBoundsException if {@code pfns} holds fewer than {@code n} PFNs
     * @throws UalException              as {@link #link(long, int, long[], int)}
     * @throws IllegalStateException     if the range, its device or {@code pfns} is closed
     */
    public void link(long offset, int target, MemorySegment pfns, long n, int prot) {
        Native.checkPages(n, pfns, Long.BYTES, "pfns");
        ensureOpen();
        Native.check(FastPath.iovaLink(device.handle(), iova, offset, target, pfns, n, prot), "iova_link");
    }

    /**
     * Makes linked translations of a part of the range visible: invalidates the fabric TLB for exactly that part.
     *
     * @param offset byte offset, 4 KiB aligned
     * @param len    bytes, a non-zero multiple of 4 KiB within the range
     * @throws UalException          {@code EINVAL}, {@code ERANGE}, {@code EOVERFLOW} as link
     * @throws IllegalStateException if the range or its device is closed
     */
    public void sync(long offset, long len) {
        ensureOpen();
        Native.check(FastPath.iovaSync(device.handle(), iova, offset, len), "iova_sync");
    }

    /**
     * Makes every linked translation of the range visible ({@code sync(0, size())}).
     *
     * @throws IllegalStateException if the range or its device is closed
     */
    public void sync() {
        sync(0, size);
    }

    /**
     * Removes translations; synchronous (invalidates the TLB for the part).
     *
     * @param offset byte offset, 4 KiB aligned
     * @param len    bytes, a non-zero multiple of 4 KiB within the range; every page must be linked and large
     *               entries must be unlinked whole
     * @throws UalException          {@code ENOENT} if a page is not linked, {@code EINVAL} if the part splits a
     *                               large entry or is misaligned, {@code ERANGE}, {@code EOVERFLOW}
     * @throws IllegalStateException if the range or its device is closed
     */
    public void unlink(long offset, long len) {
        ensureOpen();
        Native.check(FastPath.iovaUnlink(device.handle(), iova, offset, len), "iova_unlink");
    }

    /**
     * Returns the unrouted fabric address of a byte of the range.
     *
     * @param offset byte offset into the range
     * @return {@code FabricAddress.iova(iova() + offset)}
     * @throws IndexOutOfBoundsException if {@code offset} is outside the range
     * @throws IllegalStateException     if the range or its device is closed
     */
    public FabricAddress address(long offset) {
        ensureOpen();
        Objects.checkIndex(offset, size);
        return FabricAddress.iova(iova + offset);
    }

    /**
     * Lists the page-table leaf entries inside the range.
     *
     * @return the entries, in IOVA order
     * @throws IllegalStateException if the range or its device is closed
     */
    public List<Mapping> dump() {
        ensureOpen();
        return device.dump(iova, size);
    }

    /**
     * Frees the range, first unlinking whatever is still linked so nothing leaks. Idempotent; a no-op once the
     * device is closed (which freed the range).
     *
     * @throws UalException          if libual refuses (the range stays open)
     * @throws IllegalStateException if another thread is closing the device at the same time
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        try {
            int rc = UalNative.ual_iova_free(device.handle(), iova);
            if (rc == ErrorCode.EBUSY.code()) {
                unlinkAll();
                rc = UalNative.ual_iova_free(device.handle(), iova);
            }
            Native.check(rc, "iova_free");
            LOG.debug("accelerator {}: freed IOVA range 0x{}", device.acceleratorId(), Long.toHexString(iova));
        } catch (IllegalStateException e) {
            if (device.isOpen()) {
                throw e;
            }
        }
        closed = true;
    }

    /** Unlinks every linked run of the range, whole leaf entries at a time. */
    private void unlinkAll() {
        List<Mapping> maps = device.dump(iova, size);
        int i = 0;
        while (i < maps.size()) {
            long start = maps.get(i).iova();
            long end = start + maps.get(i).size();
            int j = i + 1;
            while (j < maps.size() && maps.get(j).iova() == end) {
                end += maps.get(j).size();
                j++;
            }
            Native.check(UalNative.ual_iova_unlink(device.handle(), iova, start - iova, end - start), "iova_unlink");
            i = j;
        }
    }

    @Override
    public String toString() {
        return String.format("IovaRange[accel=%d iova=0x%x size=%d%s]", device.acceleratorId(), iova, size,
                closed || !device.isOpen() ? " closed" : "");
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("IOVA range closed");
        }
        device.ensureOpen();
    }
}
