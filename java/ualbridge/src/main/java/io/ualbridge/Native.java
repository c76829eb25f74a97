package io.ualbridge;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import io.ualbridge.internal.UalNative;

/** Helpers shared by the API classes: error conversion and per-thread scratch memory. */
final class Native {
    static final long PAGE_SIZE = 4096;
    static final int PAGE_SHIFT = 12;
    static final int ACCEL_NONE = 0xffff;
    static final int XLATE_TLB_HIT = 1;
    static final int FAULT_F_TLB = 1;
    static final int FAULT_F_AT_TARGET = 2;

    /** Size of the small per-thread scratch: room for a ual_info, or two ual_faddr plus a ual_xlate. */
    static final long SMALL = 256;
    /** Staging buffers up to this size are kept per thread; larger ones are allocated per call. */
    private static final long KEEP_MAX = 1L << 20;

    private static final ThreadLocal<Native> SCRATCH = ThreadLocal.withInitial(Native::new);

    // Auto arenas: the memory may be touched by any thread and is freed by the GC once the thread is gone.
    private final MemorySegment small = Arena.ofAuto().allocate(SMALL, 16);
    private final Stage stageA = new Stage();
    private final Stage stageB = new Stage();

    /** One per-thread staging slot: grows to the largest request up to KEEP_MAX and keeps it. */
    private static final class Stage {
        private MemorySegment seg = MemorySegment.NULL;

        MemorySegment get(long bytes) {
            if (seg.byteSize() < bytes) {
                MemorySegment fresh = grow(bytes);
                if (bytes <= KEEP_MAX) {
                    seg = fresh;
                }
                return fresh.asSlice(0, bytes);
            }
            return seg.asSlice(0, bytes);
        }
    }

    private Native() {
    }

    /**
     * The calling thread's small scratch segment (256 bytes, 16-aligned). libual never calls back, so a call
     * can own it from before the downcall until its results are read.
     */
    static MemorySegment small() {
        return SCRATCH.get().small.fill((byte) 0);
    }

    /** A per-thread staging buffer of at least {@code bytes} (slot A), contents undefined. */
    static MemorySegment stageA(long bytes) {
        return SCRATCH.get().stageA.get(bytes);
    }

    /** A second per-thread staging buffer (slot B), distinct from slot A. */
    static MemorySegment stageB(long bytes) {
        return SCRATCH.get().stageB.get(bytes);
    }

    private static MemorySegment grow(long bytes) {
        long size = bytes <= KEEP_MAX ? Math.max(4096, Long.highestOneBit(Math.max(bytes - 1, 1)) << 1) : bytes;
        return Arena.ofAuto().allocate(size, 4096);
    }

    /** Copies a long[] into slot A, in one bulk copy. */
    static MemorySegment stageLongs(long[] values) {
        MemorySegment seg = stageA((long) values.length * Long.BYTES);
        MemorySegment.copy(values, 0, seg, ValueLayout.JAVA_LONG, 0, values.length);
        return seg;
    }

    /** Throws a {@link UalException} if {@code rc} is not 0. Must run right after the call, on its thread. */
    static void check(int rc, String operation) {
        if (rc != 0) {
            throw error(rc, operation);
        }
    }

    /** Builds the exception for a failed call: reads ual_last_error() first, before anything else can fail. */
    static UalException error(int rc, String operation) {
        String detail = cString(UalNative.ual_last_error());
        String name = cString(UalNative.ual_strerror(rc));
        return new UalException(operation, rc, name, detail);
    }

    static String cString(MemorySegment p) {
        if (p == null || p.address() == 0) {
            return "";
        }
        return p.reinterpret(Long.MAX_VALUE).getString(0);
    }

    /** A fixed-size char array (not necessarily NUL-terminated) as a string. */
    static String cString(MemorySegment chars, long max) {
        long len = 0;
        while (len < max && chars.get(ValueLayout.JAVA_BYTE, len) != 0) {
            len++;
        }
        byte[] bytes = new byte[(int) len];
        MemorySegment.copy(chars, ValueLayout.JAVA_BYTE, 0, bytes, 0, bytes.length);
        return new String(bytes, java.nio.charset.StandardCharsets.UTF_8);
    }

    static void checkPages(long n, MemorySegment seg, long elementSize, String what) {
        if (n < 0) {
            throw new IllegalArgumentException(what + ": negative count " + n);
        }
        if (!seg.isNative()) {
            throw new IllegalArgumentException(what + ": segment must be native memory");
        }
        if (n > seg.byteSize() / elementSize) {
            throw new IndexOutOfBoundsException(what + ": segment of " + seg.byteSize() + " bytes holds fewer than "
                    + n + " elements of " + elementSize + " bytes");
        }
    }
}
