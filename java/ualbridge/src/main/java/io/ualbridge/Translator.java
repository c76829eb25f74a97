package io.ualbridge;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import io.ualbridge.internal.UalNative;
import io.ualbridge.internal.ual_faddr;
import io.ualbridge.internal.ual_xlate;

/**
 * The allocation-free form of {@link UalDevice#translate(int, FabricAddress, int)}, for hot loops: one
 * {@code ual_translate} per call through a critical downcall, no object created, no exception for a request the
 * fabric refuses. Obtain one per thread from {@link UalDevice#translator()}:
 *
 * <pre>{@code
 * try (Translator t = dev.translator()) {
 *     for (long a = start; a < end; a += 4096) {
 *         int rc = t.translate(0, false, 0, a, Access.READ);
 *         if (rc != 0) {
 *             throw t.error(rc);          // or count it: EFAULT / EACCES are the fabric refusing
 *         }
 *         sum += t.phys();
 *     }
 * }
 * }</pre>
 *
 * <p>A translator belongs to the thread that created it: every method but {@link #close()} from another thread
 * throws {@link WrongThreadException} (and so does {@code close()}). Its argument and result memory are two small
 * Java arrays passed to libual as heap segments (the critical call lets native code read and write them in
 * place), so it owns no native memory and nothing leaks if it is dropped unclosed.
 *
 * <p>While a translator is open its device stays open: {@link UalDevice#close()} throws
 * {@link IllegalStateException} until every translator of the device is closed (a translator whose thread has
 * terminated no longer counts). That is what makes the hot path safe without the per-call arena acquire of the
 * other methods: the device handle cannot be freed while a translator can still pass it to libual.
 */
public final class Translator implements AutoCloseable {
    // The structs live in long[] words read and written directly (no segment accessor per field: bounds, scope
    // and read-only checks on every access cost a few nanoseconds on a ~30 ns call). Word index and bit shift of
    // each field come from the generated layouts and the platform's byte order.
    private static final boolean BIG_ENDIAN = ByteOrder.nativeOrder() == ByteOrder.BIG_ENDIAN;
    private static final int FA_ADDR = word(ual_faddr.addr$offset());
    private static final int FA_ROUTE = word(ual_faddr.route$offset());
    private static final int FA_ROUTE_SHIFT = shift(ual_faddr.route$offset(), 4);
    private static final int XL_TARGET = word(ual_xlate.target$offset());
    private static final int XL_TARGET_SHIFT = shift(ual_xlate.target$offset(), 2);
    private static final int XL_FLAGS = word(ual_xlate.flags$offset());
    private static final int XL_FLAGS_SHIFT = shift(ual_xlate.flags$offset(), 4);
    private static final int XL_PHYS = word(ual_xlate.phys$offset());
    private static final int XL_PAGE_SIZE = word(ual_xlate.page_size$offset());
    private static final int XL_PROT = word(ual_xlate.prot$offset());
    private static final int XL_PROT_SHIFT = shift(ual_xlate.prot$offset(), 4);

    private final UalDevice device;
    private final MemorySegment handle;
    private final Thread owner;
    /** {@code struct ual_faddr} and {@code struct ual_xlate}, 8-byte aligned heap memory. */
    private final long[] faddrWords = new long[(int) (ual_faddr.sizeof() / Long.BYTES)];
    private final long[] xlateWords = new long[(int) (ual_xlate.sizeof() / Long.BYTES)];
    private final MemorySegment faddr = MemorySegment.ofArray(faddrWords);
    private final MemorySegment xlate = MemorySegment.ofArray(xlateWords);
    private boolean closed;
    private boolean valid;

    Translator(UalDevice device, MemorySegment rawHandle) {
        this.device = device;
        // A global-scope view of the handle: no arena to acquire per call; the device's refusal to close while
        // this translator is open keeps the address valid.
        this.handle = MemorySegment.ofAddress(rawHandle.address());
        this.owner = Thread.currentThread();
    }

    /**
     * Translates and checks one request as the fabric would (see {@link UalDevice#translate}); on success the
     * getters describe the translation until the next call.
     *
     * @param initiator accelerator issuing the request
     * @param routed    {@code true} for a routed physical-mode address, {@code false} for an IOVA
     * @param target    target accelerator id of a routed address (0..1023); 0 for an IOVA
     * @param address   physical address at the target (below 2<sup>57</sup>) or the IOVA
     * @param access    {@link Access#READ} or {@link Access#WRITE}
     * @return 0, or libual's negative error code ({@link ErrorCode#of(int)} names it): {@code EFAULT} for a
     *         translation fault and {@code EACCES} if the target's access control refused the request (both
     *         recorded as faults, as with {@link UalDevice#translate}), {@code ENODEV} for an unknown initiator,
     *         {@code EINVAL} for a bad access; {@link #error(int)} turns it into the exception the convenience
     *         form would have thrown
     * @throws IllegalArgumentException if the address components are out of range (as {@link FabricAddress})
     * @throws IllegalStateException    if this translator is closed
     * @throws WrongThreadException     if called from a thread other than the creator
     */
    public int translate(int initiator, boolean routed, int target, long address, int access) {
        checkUsable();
        int route = FabricAddress.routeWord(routed, target, address);
        faddrWords[FA_ADDR] = address;
        faddrWords[FA_ROUTE] = (route & 0xffff_ffffL) << FA_ROUTE_SHIFT; // rsvd stays 0
        int rc = FastPath.translate(handle, initiator, faddr, access, xlate);
        valid = rc == 0;
        return rc;
    }

    /**
     * Translates a {@link FabricAddress}; the same as {@link #translate(int, boolean, int, long, int)} with its
     * components.
     *
     * @param initiator accelerator issuing the request
     * @param address   the request's address
     * @param access    {@link Access#READ} or {@link Access#WRITE}
     * @return 0 or libual's negative error code
     * @throws IllegalStateException if this translator is closed
     * @throws WrongThreadException  if called from a thread other than the creator
     */
    public int translate(int initiator, FabricAddress address, int access) {
        return translate(initiator, address.routed(), address.target(), address.address(), access);
    }

    /**
     * Returns the accelerator owning the page of the last successful translation.
     *
     * @return the target id
     * @throws IllegalStateException if the last call failed or there was none, or the translator is closed
     */
    public int target() {
        checkResult();
        return (int) (xlateWords[XL_TARGET] >>> XL_TARGET_SHIFT) & 0xffff;
    }

    /**
     * Returns the physical address at the target of the last successful translation.
     *
     * @return the address
     * @throws IllegalStateException if the last call failed or there was none, or the translator is closed
     */
    public long phys() {
        checkResult();
        return xlateWords[XL_PHYS];
    }

    /**
     * Returns the page size of the last successful translation: 4 KiB, 64 KiB or 2 MiB (4 KiB in physical mode).
     *
     * @return bytes
     * @throws IllegalStateException if the last call failed or there was none, or the translator is closed
     */
    public long pageSize() {
        checkResult();
        return xlateWords[XL_PAGE_SIZE];
    }

    /**
     * Returns the {@link Prot} bits of the mapping (physical mode: of the grant) of the last successful
     * translation.
     *
     * @return the bits
     * @throws IllegalStateException if the last call failed or there was none, or the translator is closed
     */
    public int prot() {
        checkResult();
        return (int) (xlateWords[XL_PROT] >>> XL_PROT_SHIFT);
    }

    /**
     * Tells whether the TLB served the last successful translation.
     *
     * @return {@code true} for a TLB hit
     * @throws IllegalStateException if the last call failed or there was none, or the translator is closed
     */
    public boolean tlbHit() {
        checkResult();
        return ((int) (xlateWords[XL_FLAGS] >>> XL_FLAGS_SHIFT) & Native.XLATE_TLB_HIT) != 0;
    }

    /**
     * Returns the last successful translation as a {@link Translation} (allocates it).
     *
     * @return the translation
     * @throws IllegalStateException if the last call failed or there was none, or the translator is closed
     */
    public Translation result() {
        return new Translation(target(), phys(), pageSize(), prot(), tlbHit());
    }

    /**
     * Builds the exception for a failed {@link #translate} with libual's message for it; call it right after the
     * failing call (libual keeps one message per thread).
     *
     * @param code the negative code {@link #translate} returned
     * @return the exception (not thrown)
     * @throws IllegalArgumentException if {@code code} is not negative
     * @throws WrongThreadException     if called from a thread other than the creator
     */
    public UalException error(int code) {
        checkThread();
        if (code >= 0) {
            throw new IllegalArgumentException("not an error code: " + code);
        }
        return Native.error(code, "translate");
    }

    /**
     * Returns the device this translator works on.
     *
     * @return the device
     */
    public UalDevice device() {
        return device;
    }

    /**
     * Closes the translator, letting its device close. Idempotent.
     *
     * @throws WrongThreadException if called from a thread other than the creator
     */
    @Override
    public void close() {
        checkThread();
        if (!closed) {
            closed = true;
            valid = false;
            device.untrackTranslator(this);
        }
    }

    /** The long[] word holding the field at byte {@code offset}. */
    private static int word(long offset) {
        return (int) (offset / Long.BYTES);
    }

    /** The right shift that brings a field of {@code size} bytes at byte {@code offset} to bit 0 of its word. */
    private static int shift(long offset, int size) {
        int inWord = (int) (offset % Long.BYTES);
        if (inWord + size > Long.BYTES) {
            throw new AssertionError("field at " + offset + " straddles two words");
        }
        return (BIG_ENDIAN ? Long.BYTES - inWord - size : inWord) * Byte.SIZE;
    }

    boolean ownerAlive() {
        return owner.isAlive();
    }

    private void checkUsable() {
        checkThread();
        if (closed) {
            throw new IllegalStateException("translator closed");
        }
    }

    private void checkResult() {
        checkUsable();
        if (!valid) {
            throw new IllegalStateException("no successful translation to read");
        }
    }

    private void checkThread() {
        if (Thread.currentThread() != owner) {
            throw new WrongThreadException("translator of thread " + owner.getName() + " used from "
                    + Thread.currentThread().getName());
        }
    }
}
