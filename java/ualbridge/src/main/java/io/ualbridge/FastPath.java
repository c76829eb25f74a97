package io.ualbridge;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

import io.ualbridge.internal.UalNative;
import io.ualbridge.internal.ual_faddr;
import io.ualbridge.internal.ual_xlate;

/**
 * Critical downcall handles for the hot calls (jextract cannot generate them): the symbols and descriptors are the
 * generated ones, linked again with {@link Linker.Option#critical(boolean) Linker.Option.critical(true)}.
 *
 * <p>A critical call skips the thread-state transitions of a normal downcall (the biggest part of its cost) and,
 * with heap access allowed, takes a {@code long[]} as a heap segment without copying it: the garbage collector
 * cannot run, hence cannot move the array, while the thread is inside the call. The JDK asks that such calls be
 * short and not block. These qualify because:
 * <ul>
 * <li>they are used only up to {@link #CRITICAL_MAX_PAGES} pages (tens of microseconds at most); longer batches
 * go through the normal handles;</li>
 * <li>the only thing they can wait for is a libual mutex, held only while another thread runs libual code, which
 * never calls back into Java and so never waits for the JVM: a critical call can at worst delay a safepoint by
 * the length of another thread's libual call, and can never deadlock with one.</li>
 * </ul>
 *
 * <p>Closing a device concurrently stays safe: the device handle is passed as a segment of the device's shared
 * arena, and the linker keeps that arena acquired for the duration of every downcall, critical or not, so
 * {@link UalDevice#close()} cannot run {@code ual_close} while a call is inside libual (it throws
 * {@link IllegalStateException} instead), and a call after close throws before reaching native code. The one
 * exception is {@link Translator}: it passes a global-scope view of the handle (no per-call acquire, which costs
 * atomic operations on a shared arena) and relies instead on the device refusing to close while any translator
 * is open.
 *
 * <p>Nothing here allocates on the Java heap per call: per-thread scratch segments are allocated once.
 */
final class FastPath {
    /** Largest batch (pages) sent through a critical call; above it the normal, GC-friendly handle is used. */
    static final long CRITICAL_MAX_PAGES = 4096;

    private static final Linker LINKER = Linker.nativeLinker();
    /** No heap segments: pure scalar or native-memory arguments. */
    private static final Linker.Option CRITICAL = Linker.Option.critical(false);
    /** Heap segments (long[]) may be passed directly. */
    private static final Linker.Option CRITICAL_HEAP = Linker.Option.critical(true);

    static final MethodHandle ABI_VERSION = link(UalNative.ual_abi_version$address(),
            UalNative.ual_abi_version$descriptor(), CRITICAL);
    static final MethodHandle IOVA_LINK = link(UalNative.ual_iova_link$address(),
            UalNative.ual_iova_link$descriptor(), CRITICAL_HEAP);
    static final MethodHandle IOVA_UNLINK = link(UalNative.ual_iova_unlink$address(),
            UalNative.ual_iova_unlink$descriptor(), CRITICAL);
    static final MethodHandle IOVA_SYNC = link(UalNative.ual_iova_sync$address(),
            UalNative.ual_iova_sync$descriptor(), CRITICAL);
    static final MethodHandle MAP_PFNS = link(UalNative.ual_map_pfns$address(),
            UalNative.ual_map_pfns$descriptor(), CRITICAL_HEAP);
    static final MethodHandle TRANSLATE = link(UalNative.ual_translate$address(),
            UalNative.ual_translate$descriptor(), CRITICAL_HEAP);

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private FastPath() {
    }

    private static MethodHandle link(MemorySegment address, FunctionDescriptor descriptor, Linker.Option option) {
        return LINKER.downcallHandle(address, descriptor, option);
    }

    /**
     * Per-thread argument memory of {@link #translate}: a ual_faddr and a ual_xlate in heap arrays (8-byte
     * aligned, as the structs need), wrapped once. Heap segments belong to no arena, so passing them costs no
     * arena acquire/release (two atomic operations each for native memory of a shared or automatic arena), and the
     * GC reclaims them with the thread.
     */
    static final class Scratch {
        final MemorySegment faddr = MemorySegment.ofArray(new long[(int) (ual_faddr.sizeof() / Long.BYTES)]);
        final MemorySegment xlate = MemorySegment.ofArray(new long[(int) (ual_xlate.sizeof() / Long.BYTES)]);
    }

    static int abiVersion() {
        try {
            return (int) ABI_VERSION.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** ual_iova_link; {@code pfns} may be a heap segment only when {@code n <= CRITICAL_MAX_PAGES}. */
    static int iovaLink(MemorySegment dev, long iova, long offset, int target, MemorySegment pfns, long n,
            int prot) {
        try {
            if (n <= CRITICAL_MAX_PAGES) {
                return (int) IOVA_LINK.invokeExact(dev, iova, offset, target, pfns, n, prot);
            }
            return UalNative.ual_iova_link(dev, iova, offset, target, pfns, n, prot);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int iovaUnlink(MemorySegment dev, long iova, long offset, long len) {
        try {
            if (len >= 0 && len <= CRITICAL_MAX_PAGES * Native.PAGE_SIZE) {
                return (int) IOVA_UNLINK.invokeExact(dev, iova, offset, len);
            }
            return UalNative.ual_iova_unlink(dev, iova, offset, len);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int iovaSync(MemorySegment dev, long iova, long offset, long len) {
        try {
            if (len >= 0 && len <= CRITICAL_MAX_PAGES * Native.PAGE_SIZE) {
                return (int) IOVA_SYNC.invokeExact(dev, iova, offset, len);
            }
            return UalNative.ual_iova_sync(dev, iova, offset, len);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** ual_map_pfns; heap segments allowed only when {@code n <= CRITICAL_MAX_PAGES}. */
    static int mapPfns(MemorySegment dev, int target, MemorySegment pfns, long n, int prot, MemorySegment out) {
        try {
            if (n <= CRITICAL_MAX_PAGES) {
                return (int) MAP_PFNS.invokeExact(dev, target, pfns, n, prot, out);
            }
            return UalNative.ual_map_pfns(dev, target, pfns, n, prot, out);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The calling thread's translate scratch. */
    static Scratch scratch() {
        return SCRATCH.get();
    }

    static int translate(MemorySegment dev, int initiator, MemorySegment faddr, int access, MemorySegment out) {
        try {
            return (int) TRANSLATE.invokeExact(dev, initiator, faddr, access, out);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException re) {
            throw re;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new AssertionError("unexpected checked exception from a downcall", t);
    }
}
