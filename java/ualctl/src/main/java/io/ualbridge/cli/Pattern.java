package io.ualbridge.cli;

import io.ualbridge.DeviceMemory;
import java.lang.foreign.MemorySegment;

/** A deterministic byte pattern to fill memory with and check copies against. */
final class Pattern {
    private final int seed;

    Pattern(int seed) {
        this.seed = seed;
    }

    byte at(long offset) {
        long x = offset * 0x9E3779B97F4A7C15L + seed;
        x ^= x >>> 29;
        return (byte) (x ^ (offset >>> 12));
    }

    byte[] chunk(long offset, int len) {
        byte[] b = new byte[len];
        for (int i = 0; i < len; i++) {
            b[i] = at(offset + i);
        }
        return b;
    }

    static final int CHUNK = 1 << 20;

    /** Fills [0, len) of the memory with the pattern. */
    void fill(DeviceMemory m, long len) {
        for (long off = 0; off < len; off += CHUNK) {
            int n = (int) Math.min(CHUNK, len - off);
            m.write(off, chunk(off, n));
        }
    }

    /** Offset of the first byte of [0, len) that differs from the pattern, or -1 if all match. */
    long firstMismatch(DeviceMemory m, long len) {
        for (long off = 0; off < len; off += CHUNK) {
            int n = (int) Math.min(CHUNK, len - off);
            byte[] got = m.read(off, n);
            for (int i = 0; i < n; i++) {
                if (got[i] != at(off + i)) {
                    return off + i;
                }
            }
        }
        return -1;
    }

    /** Fills [0, len) of a host segment with the pattern. */
    void fill(MemorySegment seg, long len) {
        for (long off = 0; off < len; off += CHUNK) {
            int n = (int) Math.min(CHUNK, len - off);
            MemorySegment.copy(MemorySegment.ofArray(chunk(off, n)), 0, seg, off, n);
        }
    }

    /** Offset of the first byte of [0, len) of a host segment that differs from the pattern, or -1. */
    long firstMismatch(MemorySegment seg, long len) {
        for (long off = 0; off < len; off += CHUNK) {
            int n = (int) Math.min(CHUNK, len - off);
            byte[] got = seg.asSlice(off, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
            for (int i = 0; i < n; i++) {
                if (got[i] != at(off + i)) {
                    return off + i;
                }
            }
        }
        return -1;
    }

    /** Number of fabric requests a copy cuts [src, src+len) -> [dst, dst+len) into (64..256 bytes each, crossing
     *  neither a 256-byte boundary of either side nor a page). */
    static long requests(long src, long dst, long len) {
        long n = 0;
        while (len > 0) {
            long c = Math.min(256 - (src & 255), 256 - (dst & 255));
            c = Math.min(c, Math.min(4096 - (src & 4095), 4096 - (dst & 4095)));
            c = Math.min(c, len);
            src += c;
            dst += c;
            len -= c;
            n++;
        }
        return n;
    }
}
