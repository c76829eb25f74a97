package io.ualbridge;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.ualbridge.internal.UalNative;
import io.ualbridge.internal.ual_fault;
import io.ualbridge.internal.ual_faddr;
import io.ualbridge.internal.ual_info;
import io.ualbridge.internal.ual_mapping;
import io.ualbridge.internal.ual_xlate;

/**
 * A handle on one accelerator of a fabric (libual's {@code ual_dev}): its "local" accelerator. Memory, host
 * registrations, grants and IOVA ranges created through it belong to the local accelerator and are released when
 * the handle closes.
 *
 * <p>The native handle is owned by a shared {@link Arena} whose cleanup calls {@code ual_close}. Every call passes
 * the handle as a segment of that arena, so the arena stays acquired while a call runs: {@link #close()} while
 * another thread is inside a call fails with {@link IllegalStateException} instead of freeing the handle under
 * it, and any call after close throws {@link IllegalStateException}. All methods are thread-safe.
 *
 * <p>Every libual failure surfaces as an {@link UalException}; on failure nothing was changed.
 */
public final class UalDevice implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(UalDevice.class);

    private final Arena arena;
    private final MemorySegment handle;
    private final String uri;
    private final int acceleratorId;
    /** Children that hold Java-side resources to release when the device closes (owned host buffers). */
    private final Map<Object, Runnable> children = new ConcurrentHashMap<>();
    /** Open translators; guarded by {@code this}. While one is open the handle may not close. */
    private final List<Translator> translators = new ArrayList<>();

    private UalDevice(MemorySegment raw, String uri) {
        Arena a = Arena.ofShared();
        this.arena = a;
        this.handle = raw.reinterpret(a, UalNative::ual_close);
        this.uri = uri;
        int id;
        try {
            id = queryInfo().acceleratorId();
        } catch (RuntimeException e) {
            a.close();
            throw e;
        }
        this.acceleratorId = id;
    }

    /**
     * Opens a handle on a fabric.
     *
     * @param uri backend and options, for example {@code "fake:"}, {@code "fake:?accels=4&local=1"} or
     *            {@code "fake:demo?accels=8"} (a named in-process fabric shared by every open of that name)
     * @return the open handle; close it
     * @throws UalException         {@code EINVAL} for a malformed URI, {@code ENODEV} for an unknown backend or
     *                              local id, {@code EEXIST} if a named fabric exists with other options,
     *                              {@code ENOMEM}
     * @throws UnsatisfiedLinkError if libual cannot be loaded
     */
    public static UalDevice open(String uri) {
        Objects.requireNonNull(uri, "uri");
        NativeLoader.load();
        MemorySegment raw;
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment out = tmp.allocate(ValueLayout.ADDRESS);
            Native.check(UalNative.ual_open(tmp.allocateFrom(uri), out), "open");
            raw = out.get(ValueLayout.ADDRESS, 0);
        }
        UalDevice dev = new UalDevice(raw, uri);
        LOG.debug("opened {} as accelerator {}", uri, dev.acceleratorId);
        return dev;
    }

    /**
     * Opens a handle for another accelerator of the same fabric. The new handle is independent: close it
     * separately (the fabric lives while any handle of it is open).
     *
     * @param accel the accelerator the new handle drives
     * @return the new handle
     * @throws UalException          {@code ENODEV} if {@code accel} is not in the fabric, {@code ENOMEM}
     * @throws IllegalStateException if this handle is closed
     */
    public UalDevice openPeer(int accel) {
        MemorySegment raw;
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment out = tmp.allocate(ValueLayout.ADDRESS);
            Native.check(UalNative.ual_open_peer(handle(), accel, out), "open_peer");
            raw = out.get(ValueLayout.ADDRESS, 0);
        }
        UalDevice peer = new UalDevice(raw, uri);
        LOG.debug("opened peer accelerator {} of {}", peer.acceleratorId, uri);
        return peer;
    }

    /**
     * Describes the fabric and the local accelerator, with current counters.
     *
     * @return a snapshot
     * @throws IllegalStateException if the handle is closed
     */
    public DeviceInfo info() {
        return queryInfo();
    }

    private DeviceInfo queryInfo() {
        MemorySegment s = Native.small();
        Native.check(UalNative.ual_query(handle(), s), "query");
        return new DeviceInfo(ual_info.abi_version(s), Short.toUnsignedInt(ual_info.accel_id(s)),
                Short.toUnsignedInt(ual_info.num_accels(s)), ual_info.modes(s), ual_info.phys_bits(s),
                ual_info.dma_bits(s), ual_info.pt_levels(s), ual_info.pgsize_bitmap(s), ual_info.mem_size(s),
                ual_info.mem_free(s), ual_info.pt_pool_pages(s), ual_info.pt_pool_free(s), ual_info.tlb_entries(s),
                ual_info.iova_ranges(s), ual_info.mapped_pages(s), ual_info.grants(s), ual_info.tlb_hits(s),
                ual_info.tlb_misses(s), ual_info.req_min(s), ual_info.req_max(s),
                Native.cString(ual_info.backend(s), ual_info.backend$layout().byteSize()));
    }

    /**
     * Returns the handle's local accelerator id.
     *
     * @return the id, 0..1023 (available after close too)
     */
    public int acceleratorId() {
        return acceleratorId;
    }

    /**
     * Returns the URI the fabric was opened with (a peer reports its parent's URI).
     *
     * @return the URI (available after close too)
     */
    public String uri() {
        return uri;
    }

    /**
     * Tells whether this handle is open.
     *
     * @return {@code false} once {@link #close()} succeeded
     */
    public boolean isOpen() {
        return arena.scope().isAlive();
    }

    // ---- memory ---------------------------------------------------------------------------------------------

    /**
     * Allocates a physically contiguous block of the local accelerator's memory; it reads as zeros.
     *
     * @param size  bytes, a non-zero multiple of 4 KiB
     * @param align alignment in bytes, a power of two of at least 4 KiB, or 0 for 4 KiB
     * @return the block; closing it frees it
     * @throws UalException          {@code EINVAL} for a bad size or alignment, {@code ENOMEM} if no block fits
     * @throws IllegalStateException if the handle is closed
     */
    public DeviceMemory allocMemory(long size, long align) {
        MemorySegment s = Native.small();
        Native.check(UalNative.ual_mem_alloc(handle(), size, align, s), "mem_alloc");
        long pfn = s.get(ValueLayout.JAVA_LONG, 0);
        LOG.debug("accelerator {}: allocated {} bytes of device memory at pfn 0x{}", acceleratorId, size,
                Long.toHexString(pfn));
        return new DeviceMemory(this, pfn, size);
    }

    void freeMemory(long pfn, long size) {
        Native.check(UalNative.ual_mem_free(handle(), pfn, size), "mem_free");
        LOG.debug("accelerator {}: freed {} bytes of device memory at pfn 0x{}", acceleratorId, size,
                Long.toHexString(pfn));
    }

    /**
     * Writes the local accelerator's memory as a CPU would through a BAR.
     *
     * @param phys physical address; {@code [phys, phys + src.byteSize())} must lie in device memory
     * @param src  the bytes, native or heap memory
     * @throws UalException          {@code ERANGE} outside device memory, {@code EOVERFLOW} if the range wraps
     * @throws IllegalStateException if the handle or {@code src} is closed
     */
    public void writeMemory(long phys, MemorySegment src) {
        Objects.requireNonNull(src, "src");
        MemorySegment buf = src;
        if (!src.isNative()) {
            buf = Native.stageA(src.byteSize());
            buf.copyFrom(src);
        }
        Native.check(UalNative.ual_mem_write(handle(), phys, buf, src.byteSize()), "mem_write");
    }

    /**
     * Writes the local accelerator's memory as a CPU would through a BAR.
     *
     * @param phys physical address; {@code [phys, phys + src.length)} must lie in device memory
     * @param src  the bytes
     * @throws UalException          {@code ERANGE} outside device memory, {@code EOVERFLOW} if the range wraps
     * @throws IllegalStateException if the handle is closed
     */
    public void writeMemory(long phys, byte[] src) {
        writeMemory(phys, MemorySegment.ofArray(src));
    }

    /**
     * Reads the local accelerator's memory as a CPU would through a BAR.
     *
     * @param phys physical address; {@code [phys, phys + dst.byteSize())} must lie in device memory
     * @param dst  receives the bytes, native or heap memory
     * @throws UalException          {@code ERANGE} outside device memory, {@code EOVERFLOW} if the range wraps
     * @throws IllegalStateException if the handle or {@code dst} is closed
     */
    public void readMemory(long phys, MemorySegment dst) {
        Objects.requireNonNull(dst, "dst");
        if (dst.isNative()) {
            Native.check(UalNative.ual_mem_read(handle(), phys, dst, dst.byteSize()), "mem_read");
            return;
        }
        MemorySegment buf = Native.stageA(dst.byteSize());
        Native.check(UalNative.ual_mem_read(handle(), phys, buf, dst.byteSize()), "mem_read");
        dst.copyFrom(buf);
    }

    /**
     * Reads the local accelerator's memory as a CPU would through a BAR.
     *
     * @param phys physical address; {@code [phys, phys + len)} must lie in device memory
     * @param len  bytes to read
     * @return the bytes
     * @throws IllegalArgumentException if {@code len} is negative
     * @throws UalException             {@code ERANGE} outside device memory, {@code EOVERFLOW} if the range wraps
     * @throws IllegalStateException    if the handle is closed
     */
    public byte[] readMemory(long phys, int len) {
        if (len < 0) {
            throw new IllegalArgumentException("negative length " + len);
        }
        byte[] out = new byte[len];
        readMemory(phys, MemorySegment.ofArray(out));
        return out;
    }

    /**
     * Registers (pins) a caller's native buffer so its pages become PFNs of the local accelerator's host aperture.
     * The buffer must stay alive until the returned {@link HostBuffer} is closed (or this handle closes): do not
     * close its arena before.
     *
     * @param pageAlignedNativeSegment native memory, 4 KiB aligned, a non-zero multiple of 4 KiB long
     * @return the registration; closing it unregisters the buffer (the memory stays the caller's)
     * @throws IllegalArgumentException if the segment is not native memory
     * @throws UalException             {@code EINVAL} for unaligned or empty input, {@code EEXIST} if it overlaps a
     *                                  registered buffer, {@code ENOSPC} if the aperture is full
     * @throws IllegalStateException    if the handle or the segment is closed
     */
    public HostBuffer register(MemorySegment pageAlignedNativeSegment) {
        Objects.requireNonNull(pageAlignedNativeSegment, "segment");
        return HostBuffer.register(this, pageAlignedNativeSegment, null);
    }

    /**
     * Allocates page-aligned native memory and registers it: the returned buffer owns the memory and frees it
     * when closed (or when this handle closes).
     *
     * @param size bytes, a non-zero multiple of 4 KiB
     * @return the registered buffer
     * @throws IllegalArgumentException if {@code size} is negative
     * @throws UalException             {@code EINVAL} for a zero or unaligned size, {@code ENOSPC} if the aperture
     *                                  is full
     * @throws IllegalStateException    if the handle is closed
     */
    public HostBuffer allocateHostBuffer(long size) {
        if (size < 0) {
            throw new IllegalArgumentException("negative size " + size);
        }
        ensureOpen();
        Arena own = Arena.ofShared();
        try {
            MemorySegment seg = own.allocate(size, Native.PAGE_SIZE);
            return HostBuffer.register(this, seg, own);
        } catch (RuntimeException | Error e) {
            own.close();
            throw e;
        }
    }

    // ---- access control ---------------------------------------------------------------------------------------

    /**
     * Lets an initiator reach pages of the target (this handle's local accelerator).
     *
     * @param target    the accelerator owning the pages: must be {@link #acceleratorId()}
     * @param initiator the accelerator allowed in
     * @param pfn       first PFN (device memory or a registered host page)
     * @param npages    pages, non-zero
     * @param prot      {@link Prot} bits, non-zero
     * @throws UalException          {@code EPERM} if {@code target} is not the local accelerator, {@code ENODEV}
     *                               for an unknown initiator, {@code EINVAL}, {@code ERANGE}, {@code EOVERFLOW},
     *                               {@code EEXIST} for an overlapping grant, {@code ENOSPC}
     * @throws IllegalStateException if the handle is closed
     */
    public void grant(int target, int initiator, long pfn, long npages, int prot) {
        Native.check(UalNative.ual_grant(handle(), target, initiator, pfn, npages, prot), "grant");
    }

    /**
     * Takes back granted pages; synchronous: when it returns no request of the initiator reaches them.
     *
     * @param target    the accelerator owning the pages: must be {@link #acceleratorId()}
     * @param initiator the accelerator the pages were granted to
     * @param pfn       first PFN
     * @param npages    pages, non-zero; every page must be granted (a part of a grant splits it)
     * @throws UalException          {@code ENOENT} if a page is not granted, {@code EPERM}, {@code ENODEV},
     *                               {@code EINVAL}, {@code EOVERFLOW}, {@code ENOSPC}
     * @throws IllegalStateException if the handle is closed
     */
    public void revoke(int target, int initiator, long pfn, long npages) {
        Native.check(UalNative.ual_revoke(handle(), target, initiator, pfn, npages), "revoke");
    }

    // ---- physical mode ----------------------------------------------------------------------------------------

    /**
     * Resolves PFNs of a target to routed physical-mode fabric addresses ({@code pfn << 12} routed to the
     * target). Nothing is programmed; the target's grants decide access when requests arrive.
     *
     * @param target accelerator owning the pages
     * @param pfns   PFNs, each allocated device memory or a registered host page of the target; non-empty
     * @param prot   intended {@link Prot}, non-zero
     * @return one address per PFN
     * @throws UalException          {@code ENOTSUP} without physical mode, {@code ENODEV} for an unknown target,
     *                               {@code EINVAL} for no PFNs or bad prot, {@code ERANGE} for a PFN outside the
     *                               target's memory, {@code ENOENT} for a PFN not allocated or registered
     * @throws IllegalStateException if the handle is closed
     */
    public FabricAddress[] mapPfns(int target, long[] pfns, int prot) {
        Objects.requireNonNull(pfns, "pfns");
        MemorySegment in = pfns.length <= FastPath.CRITICAL_MAX_PAGES ? MemorySegment.ofArray(pfns)
                : Native.stageLongs(pfns);
        MemorySegment out = Native.stageB(pfns.length * ual_faddr.sizeof());
        Native.check(FastPath.mapPfns(handle(), target, in, pfns.length, prot, out), "map_pfns");
        FabricAddress[] result = new FabricAddress[pfns.length];
        long stride = ual_faddr.sizeof();
        for (int i = 0; i < result.length; i++) {
            result[i] = FabricAddress.readFrom(out.asSlice(i * stride, stride));
        }
        return result;
    }

    /**
     * Zero-copy batch form of {@link #mapPfns(int, long[], int)}: reads the PFNs from native memory and writes
     * {@code n} {@code struct ual_faddr} (16 bytes each: address, route word, reserved) into {@code addrsOut}.
     *
     * @param target   accelerator owning the pages
     * @param pfns     native memory holding at least {@code n} 64-bit PFNs
     * @param n        number of PFNs, non-zero
     * @param prot     intended {@link Prot}, non-zero
     * @param addrsOut native memory with room for {@code n} addresses; untouched on error
     * @throws IllegalArgumentException  if {@code n} is negative or a segment is not native
     * @throws IndexOutOfBoundsException if a segment is too small for {@code n} elements
     * @throws UalException              as {@link #mapPfns(int, long[], int)}
     * @throws IllegalStateException     if the handle or a segment is closed
     */
    public void mapPfns(int target, MemorySegment pfns, long n, int prot, MemorySegment addrsOut) {
        Native.checkPages(n, pfns, Long.BYTES, "pfns");
        Native.checkPages(n, addrsOut, ual_faddr.sizeof(), "addrsOut");
        Native.check(FastPath.mapPfns(handle(), target, pfns, n, prot, addrsOut), "map_pfns");
    }

    // ---- virtual mode -------------------------------------------------------------------------------------------

    /**
     * Reserves an IOVA range in the local fabric domain, aligned to the largest page size not above
     * {@code size}.
     *
     * @param size  bytes, a non-zero multiple of 4 KiB
     * @param flags 0 or {@link IovaRange#PREALLOC} (reserve every page-table page now, so link and unlink on
     *              the range never allocate)
     * @return the range; closing it unlinks what is still linked and frees it
     * @throws UalException          {@code ENOTSUP} without virtual mode, {@code EINVAL} for a bad size or flags,
     *                               {@code ENOSPC} if no range fits, {@code ENOMEM} if the pool cannot cover a
     *                               preallocation
     * @throws IllegalStateException if the handle is closed
     */
    public IovaRange allocIova(long size, int flags) {
        MemorySegment s = Native.small();
        Native.check(UalNative.ual_iova_alloc(handle(), size, flags, s), "iova_alloc");
        long iova = s.get(ValueLayout.JAVA_LONG, 0);
        LOG.debug("accelerator {}: allocated IOVA range 0x{} of {} bytes (flags {})", acceleratorId,
                Long.toHexString(iova), size, flags);
        return new IovaRange(this, iova, size);
    }

    /**
     * Lists the leaf page-table entries of the local domain whose IOVA lies in a window, in IOVA order (reads
     * the page tables, not the TLB).
     *
     * @param iova first IOVA of the window
     * @param len  bytes of the window, 0 for up to the DMA limit
     * @return the entries
     * @throws UalException          {@code EOVERFLOW} if the window wraps
     * @throws IllegalStateException if the handle is closed
     */
    public List<Mapping> dump(long iova, long len) {
        MemorySegment count = Native.small();
        Native.check(UalNative.ual_dump(handle(), iova, len, MemorySegment.NULL, 0, count), "dump");
        long n = count.get(ValueLayout.JAVA_LONG, 0);
        while (true) {
            long cap = n + 16;
            try (Arena tmp = Arena.ofConfined()) {
                MemorySegment out = tmp.allocate(ual_mapping.layout(), cap);
                Native.check(UalNative.ual_dump(handle(), iova, len, out, cap, count), "dump");
                n = count.get(ValueLayout.JAVA_LONG, 0);
                if (n <= cap) {
                    List<Mapping> list = new ArrayList<>((int) n);
                    long stride = ual_mapping.sizeof();
                    for (long i = 0; i < n; i++) {
                        MemorySegment m = out.asSlice(i * stride, stride);
                        list.add(new Mapping(ual_mapping.iova(m), ual_mapping.phys(m), ual_mapping.size(m),
                                Short.toUnsignedInt(ual_mapping.target(m)), Short.toUnsignedInt(ual_mapping.level(m)),
                                ual_mapping.prot(m)));
                    }
                    return List.copyOf(list);
                }
            }
        }
    }

    /**
     * Lists every leaf page-table entry of the local domain.
     *
     * @return the entries, in IOVA order
     * @throws IllegalStateException if the handle is closed
     */
    public List<Mapping> dump() {
        return dump(0, 0);
    }

    // ---- what the hardware does ----------------------------------------------------------------------------------

    /**
     * Translates and checks one request as the fabric would: an IOVA walks the initiator's domain through its
     * TLB, then the target checks its memory range and grants. A local request (initiator = target) needs no
     * grant but reaches a host page only if this handle registered it. A refused request is recorded as a fault.
     *
     * @param initiator accelerator issuing the request (any accelerator of the fabric)
     * @param address   the request's address
     * @param access    {@link Access#READ} or {@link Access#WRITE}
     * @return the translation
     * @throws UalException          {@code EFAULT} for a translation fault, {@code EACCES} if the target's access
     *                               control refused it, {@code ENODEV} for an unknown initiator, {@code EINVAL}
     *                               for a bad access
     * @throws IllegalStateException if the handle is closed
     */
    public Translation translate(int initiator, FabricAddress address, int access) {
        Objects.requireNonNull(address, "address");
        FastPath.Scratch s = FastPath.scratch();
        MemorySegment fa = s.faddr;
        MemorySegment out = s.xlate;
        address.writeTo(fa);
        Native.check(FastPath.translate(handle(), initiator, fa, access, out), "translate");
        return new Translation(Short.toUnsignedInt(ual_xlate.target(out)), ual_xlate.phys(out),
                ual_xlate.page_size(out), ual_xlate.prot(out), (ual_xlate.flags(out) & Native.XLATE_TLB_HIT) != 0);
    }

    /**
     * Creates an allocation-free translator for the calling thread: {@link Translator#translate} does what
     * {@link #translate(int, FabricAddress, int)} does without creating objects or throwing for refused requests,
     * for hot loops. The translator belongs to the calling thread; close it when done, since this device cannot
     * close while it is open.
     *
     * @return the translator
     * @throws IllegalStateException if the handle is closed
     */
    public Translator translator() {
        synchronized (this) {
            ensureOpen();
            Translator t = new Translator(this, handle);
            translators.add(t);
            return t;
        }
    }

    synchronized void untrackTranslator(Translator t) {
        translators.remove(t);
    }

    /**
     * Moves bytes through the fabric as an initiator's DMA engine. All requests are checked before any byte
     * moves: a refused request fails the whole copy and records one fault.
     *
     * @param initiator accelerator issuing the requests
     * @param dst       destination (written), 64-byte aligned
     * @param src       source (read), 64-byte aligned
     * @param len       bytes, a non-zero multiple of 64
     * @throws UalException          {@code EINVAL} for a bad length or alignment, {@code EOVERFLOW} if an address
     *                               plus {@code len} wraps, otherwise as {@link #translate}
     * @throws IllegalStateException if the handle is closed
     */
    public void copy(int initiator, FabricAddress dst, FabricAddress src, long len) {
        Objects.requireNonNull(dst, "dst");
        Objects.requireNonNull(src, "src");
        MemorySegment s = Native.small();
        MemorySegment d = s.asSlice(0, ual_faddr.sizeof());
        MemorySegment r = s.asSlice(32, ual_faddr.sizeof());
        dst.writeTo(d);
        src.writeTo(r);
        Native.check(UalNative.ual_copy(handle(), initiator, d, r, len), "copy");
    }

    /**
     * Drains fault records of the local accelerator's ring.
     *
     * @param max most records to read; 0 only reads (and resets) the lost count
     * @return the records, oldest first, and the number of faults lost since the previous read
     * @throws IllegalArgumentException if {@code max} is negative
     * @throws IllegalStateException    if the handle is closed
     */
    public FaultBatch readFaults(int max) {
        if (max < 0) {
            throw new IllegalArgumentException("negative max " + max);
        }
        MemorySegment s = Native.small();
        MemorySegment nread = s.asSlice(0, 4);
        MemorySegment lost = s.asSlice(8, 8);
        long stride = ual_fault.sizeof();
        MemorySegment out = max == 0 ? MemorySegment.NULL : Native.stageA(max * stride);
        Native.check(UalNative.ual_fault_read(handle(), out, max, nread, lost), "fault_read");
        int n = nread.get(ValueLayout.JAVA_INT, 0);
        List<Fault> faults = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            MemorySegment f = out.asSlice(i * stride, stride);
            int target = Short.toUnsignedInt(ual_fault.target(f));
            int flags = ual_fault.flags(f);
            faults.add(new Fault(ual_fault.seq(f), FabricAddress.fromWire(ual_fault.addr(f), ual_fault.route(f)),
                    Short.toUnsignedInt(ual_fault.initiator(f)), target == Native.ACCEL_NONE ? -1 : target,
                    ual_fault.access(f), FaultReason.of(ual_fault.reason(f)), (flags & Native.FAULT_F_TLB) != 0,
                    (flags & Native.FAULT_F_AT_TARGET) != 0, ual_fault.len(f)));
        }
        return new FaultBatch(faults, lost.get(ValueLayout.JAVA_LONG, 0));
    }

    /**
     * Returns the number of memory allocations made for this handle's fabric (test support: proves that link
     * and unlink on a {@link IovaRange#PREALLOC} range never allocate).
     *
     * @return the count since the fabric was created
     * @throws IllegalStateException if the handle is closed
     */
    public long allocCount() {
        return UalNative.ual_alloc_count(handle());
    }

    /**
     * Closes the handle: libual frees everything it created (IOVA ranges and their links, grants, device memory,
     * host registrations, in that order, even where {@link HostBuffer#close()} would refuse); host buffers
     * allocated by {@link #allocateHostBuffer} are freed. Children become unusable. Idempotent.
     *
     * @throws IllegalStateException if another thread is inside a call on this handle, or a {@link Translator} of
     *                               it is still open on a live thread (the handle stays open)
     */
    @Override
    public void close() {
        synchronized (this) {
            if (!arena.scope().isAlive()) {
                return;
            }
            // A translator passes the raw handle without acquiring the arena: it must be gone first. One whose
            // thread ended can make no more calls.
            translators.removeIf(t -> !t.ownerAlive());
            if (!translators.isEmpty()) {
                throw new IllegalStateException("accelerator " + acceleratorId + ": cannot close while "
                        + translators.size() + " translator(s) of this handle are open; close them first");
            }
            try {
                arena.close();
            } catch (IllegalStateException e) {
                if (!arena.scope().isAlive()) {
                    return;
                }
                throw new IllegalStateException("accelerator " + acceleratorId
                        + ": cannot close while another thread is inside a call on this handle", e);
            }
        }
        LOG.debug("closed accelerator {} of {}", acceleratorId, uri);
        for (Runnable r : children.values()) {
            r.run();
        }
        children.clear();
    }

    @Override
    public String toString() {
        return "UalDevice[" + uri + " accel=" + acceleratorId + (isOpen() ? "" : " closed") + "]";
    }

    // ---- package-private plumbing -----------------------------------------------------------------------------------

    /** The native handle segment; passing it to a downcall after close throws IllegalStateException. */
    MemorySegment handle() {
        ensureOpen();
        return handle;
    }

    void ensureOpen() {
        if (!arena.scope().isAlive()) {
            throw new IllegalStateException("device closed (accelerator " + acceleratorId + ")");
        }
    }

    void track(Object child, Runnable onDeviceClose) {
        children.put(child, onDeviceClose);
        if (!isOpen()) {
            // closed concurrently: make sure the child is released
            if (children.remove(child) != null) {
                onDeviceClose.run();
            }
        }
    }

    void untrack(Object child) {
        children.remove(child);
    }
}
