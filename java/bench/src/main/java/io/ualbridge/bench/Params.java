package io.ualbridge.bench;

/** Shared by the FFM and JNA benchmarks; must match native/bench/bench.c. */
final class Params {
    static final String URI = "fake:?accels=2&mem=256M&pt_pool=8192";
    static final String ALLOC_URI = "fake:?accels=1";
    static final long PAGE = 4096;
    /** Pages of the PREALLOC range that link benchmarks use. */
    static final int LINK_PAGES = 4096;
    static final long TWO_MIB = 2L << 20;
    /** Calls per JMH invocation of trivial_call (the C side loops the same way). */
    static final int TRIVIAL_LOOP = 100;

    private Params() {
    }

    /** Scattered PFNs 2*i from {@code base}: never contiguous, so every page is a 4 KiB leaf (worst case). */
    static long[] scattered(long base, int n) {
        long[] p = new long[n];
        for (int i = 0; i < n; i++) {
            p[i] = base + 2L * i;
        }
        return p;
    }

    /** IOVAs visited by translate_miss: stride 7 pages over the range, 8x the TLB's 512 entries. */
    static long[] missCycle(long iova) {
        long[] v = new long[LINK_PAGES];
        for (int i = 0; i < LINK_PAGES; i++) {
            v[i] = iova + ((i * 7L) % LINK_PAGES) * PAGE;
        }
        return v;
    }
}
