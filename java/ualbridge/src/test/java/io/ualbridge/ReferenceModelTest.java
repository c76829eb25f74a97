package io.ualbridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Example;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.RandomDistribution;
import net.jqwik.api.Tuple;
import net.jqwik.api.statistics.Statistics;

/**
 * Random operation sequences run against the fake and a small pure-Java reference model of one fabric domain
 * (accelerator 0) plus the grants accelerator 1 gives to it. After every operation the outcome (success or the
 * exact error code), every translation (target, physical address, protection or error code), the page-table dump
 * and the counters must agree with the model.
 *
 * <p>The TLB is modelled exactly as far as the header specifies it: a miss is cached per 4 KiB page (negative
 * caching) and keeps failing after a link until a sync or unlink covering the page; present translations cannot
 * go stale because a page is only re-linked after an unlink, which invalidates. Whether freeing a range drops its
 * cached misses is not specified: the model then accepts both outcomes once per page. The TLB is made large
 * enough (16384 entries) that eviction does not happen within a sequence.
 */
class ReferenceModelTest {
    static final long K4 = 4096, K64 = 1 << 16, M2 = 1 << 21;
    static final int MEM0_PAGES = 1024, MEM1_PAGES = 512;
    static final String URI = "fake:?accels=2&mem=8M&tlb=16384";

    // ---- operations -------------------------------------------------------------------------------------------

    sealed interface Op permits Alloc, Free, Link, Unlink, Sync, Grant, Revoke, Translate, TranslatePhys {
    }

    record Alloc(int pages, boolean prealloc) implements Op {
    }

    record Free(int range) implements Op {
    }

    /** PFN kinds: 0 contiguous from an aligned index, 1 contiguous, 2 scattered, 3 one PFN outside memory. */
    record Link(int range, int page, int count, int target, int pfnKind, int pfnStart, int prot) implements Op {
    }

    record Unlink(int range, int page, int count) implements Op {
    }

    record Sync(int range, int page, int count) implements Op {
    }

    record Grant(int pfn, int count, int prot) implements Op {
    }

    record Revoke(int pfn, int count) implements Op {
    }

    /** {@code range} beyond the live ranges picks a known dead range. */
    record Translate(int range, int page, int byteOffset, int access) implements Op {
    }

    record TranslatePhys(int pfn, int byteOffset, int access) implements Op {
    }

    @Provide
    Arbitrary<List<Op>> sequences() {
        Arbitrary<Integer> idx = Arbitraries.integers().between(0, 1000);
        Arbitrary<Integer> rangePages = Arbitraries.frequencyOf(Tuple.of(6, Arbitraries.integers().between(1, 16)),
                Tuple.of(1, Arbitraries.of(17, 32, 48)), Tuple.of(1, Arbitraries.of(512, 513, 1024)));
        Arbitrary<Op> alloc = Combinators.combine(rangePages, Arbitraries.of(true, false)).as(Alloc::new);
        Arbitrary<Op> free = idx.map(Free::new);
        Arbitrary<Integer> count = Arbitraries.frequencyOf(Tuple.of(8, Arbitraries.integers().between(1, 8)),
                Tuple.of(3, Arbitraries.of(16, 32)), Tuple.of(2, Arbitraries.of(512)),
                Tuple.of(1, Arbitraries.integers().between(9, 600)));
        Arbitrary<Integer> prot = Arbitraries.frequencyOf(Tuple.of(12, Arbitraries.integers().between(1, 3)),
                Tuple.of(1, Arbitraries.of(0, 4)));
        Arbitrary<Integer> page = Arbitraries.frequencyOf(Tuple.of(2, Arbitraries.of(0)),
                Tuple.of(6, Arbitraries.integers().between(0, 7)), Tuple.of(1, Arbitraries.of(16, 32, 512)),
                Tuple.of(1, idx));
        Arbitrary<Op> link = Combinators.combine(idx, page, count, Arbitraries.frequency(Tuple.of(3, 0), Tuple.of(1, 1)),
                Arbitraries.frequency(Tuple.of(4, 0), Tuple.of(3, 1), Tuple.of(3, 2), Tuple.of(1, 3)), idx, prot)
                .as(Link::new);
        // a whole 2 MiB leaf: a 512-page, 2 MiB aligned contiguous run at the start of a range
        Arbitrary<Op> linkHuge = Combinators.combine(idx, Arbitraries.of(0, 512), prot)
                .as((r, p, pr) -> new Link(r, p, 512, 0, 0, 0, pr));
        Arbitrary<Op> unlink = Combinators.combine(idx, page, count).as(Unlink::new);
        Arbitrary<Op> sync = Combinators.combine(idx, page, count).as(Sync::new);
        Arbitrary<Integer> grantPfn = Arbitraries.integers().between(0, 47);
        Arbitrary<Op> grant = Combinators.combine(grantPfn, Arbitraries.integers().between(1, 16), prot).as(Grant::new);
        Arbitrary<Op> revoke = Combinators.combine(grantPfn, Arbitraries.integers().between(1, 4)).as(Revoke::new);
        Arbitrary<Integer> offset = Arbitraries.integers().between(0, 63).map(i -> i * 64);
        Arbitrary<Integer> access = Arbitraries.of(Access.READ, Access.WRITE);
        Arbitrary<Op> translate = Combinators.combine(idx, page, offset, access).as(Translate::new);
        Arbitrary<Op> translatePhys = Combinators.combine(Arbitraries.integers().between(0, 44), offset, access)
                .as(TranslatePhys::new);
        Arbitrary<Op> op = Arbitraries.frequencyOf(Tuple.of(2, alloc), Tuple.of(1, free), Tuple.of(6, link),
                Tuple.of(1, linkHuge),
                Tuple.of(3, unlink), Tuple.of(2, sync), Tuple.of(2, grant), Tuple.of(1, revoke),
                Tuple.of(12, translate), Tuple.of(2, translatePhys));
        // start with a range so that most operations have something to work on
        return Combinators.combine(alloc, op.list().ofMinSize(20).ofMaxSize(100)
                .withSizeDistribution(RandomDistribution.uniform())).as((first, rest) -> {
            List<Op> all = new ArrayList<>(rest.size() + 1);
            all.add(first);
            all.addAll(rest);
            return all;
        });
    }

    @Property(tries = 200, edgeCases = EdgeCasesMode.FIRST)
    void fakeAgreesWithTheModel(@ForAll("sequences") List<Op> ops) {
        Runner r = new Runner(false);
        r.collectStatistics = true;
        r.run(ops);
    }

    /** The checker can fail: a model that forgets negative caching is caught on a missing sync. */
    @Example
    void aBrokenModelIsCaught() {
        List<Op> ops = List.of(new Alloc(4, false), new Translate(0, 1, 0, Access.READ),
                new Link(0, 0, 4, 0, 1, 0, Prot.RW), new Translate(0, 1, 0, Access.READ));
        new Runner(false).run(ops);
        assertThatThrownBy(() -> new Runner(true).run(ops)).isInstanceOf(AssertionError.class)
                .hasMessageContaining("translate");
    }

    // ---- the model and the runner --------------------------------------------------------------------------------

    record RangeM(long iova, int pages) {
    }

    /** One 4 KiB page of a leaf entry. */
    record PageM(int target, long pfn, int prot, long leafIova, long leafSize) {
    }

    static final class Runner {
        final boolean forgetNegativeCaching;
        boolean collectStatistics;
        final List<RangeM> ranges = new ArrayList<>();
        final List<IovaRange> real = new ArrayList<>();
        final List<RangeM> dead = new ArrayList<>();
        final TreeMap<Long, PageM> pt = new TreeMap<>(); // IOVA page address -> page
        final Set<Long> neg = new HashSet<>();          // pages whose miss is cached
        final Set<Long> maybeNeg = new HashSet<>();     // pages whose cached miss may or may not have been dropped
        final Map<Long, Integer> grants = new HashMap<>(); // PFN of accelerator 1 -> prot granted to 0
        long base0, base1;
        UalDevice dev, peer;
        int step;

        Runner(boolean forgetNegativeCaching) {
            this.forgetNegativeCaching = forgetNegativeCaching;
        }

        void run(List<Op> ops) {
            dev = UalDevice.open(URI);
            try {
                peer = dev.openPeer(1);
                base0 = dev.allocMemory(MEM0_PAGES * K4, M2).firstPfn();
                base1 = peer.allocMemory(MEM1_PAGES * K4, M2).firstPfn();
                for (Op op : ops) {
                    step++;
                    apply(op);
                    compareState(op);
                }
                for (IovaRange r : real) {
                    r.close();
                }
                DeviceInfo info = dev.info();
                assertThat(info.mappedPages()).isZero();
                assertThat(info.iovaRanges()).isZero();
                assertThat(dev.dump()).isEmpty();
            } finally {
                dev.close(); // also closes nothing else: the peer is separate
                if (peer != null) {
                    peer.close();
                }
            }
        }

        void stat(String label, String value) {
            if (collectStatistics) {
                Statistics.label(label).collect(value);
            }
        }

        String where(Op op) {
            return "step " + step + " " + op;
        }

        /** Runs the call; returns null on success or the error code. */
        static ErrorCode outcome(Runnable call) {
            try {
                call.run();
                return null;
            } catch (UalException e) {
                return e.error();
            }
        }

        static void expectOutcome(String where, ErrorCode got, Set<ErrorCode> allowed) {
            if (allowed.isEmpty()) {
                assertThat(got).as(where + ": expected success").isNull();
            } else {
                assertThat(got).as(where + ": expected one of " + allowed).isIn(allowed);
            }
        }

        void apply(Op op) {
            switch (op) {
                case Alloc a -> {
                    IovaRange r = dev.allocIova(a.pages() * K4, a.prealloc() ? IovaRange.PREALLOC : 0);
                    long size = a.pages() * K4;
                    long align = size >= M2 ? M2 : size >= K64 ? K64 : K4;
                    assertThat(r.iova() % align).as(where(op) + " alignment").isZero();
                    assertThat(r.iova()).isPositive().isLessThanOrEqualTo((1L << 48) - size);
                    for (RangeM m : ranges) {
                        assertThat(r.iova() + size <= m.iova() || m.iova() + m.pages() * K4 <= r.iova())
                                .as(where(op) + " overlaps " + m).isTrue();
                    }
                    ranges.add(new RangeM(r.iova(), a.pages()));
                    real.add(r);
                }
                case Free f -> {
                    if (ranges.isEmpty()) {
                        return;
                    }
                    int i = f.range() % ranges.size();
                    RangeM m = ranges.remove(i);
                    real.remove(i).close();
                    for (int p = 0; p < m.pages(); p++) {
                        long v = m.iova() + p * K4;
                        if (pt.remove(v) != null) {
                            neg.remove(v); // close unlinks linked pages: that invalidates them
                            maybeNeg.remove(v);
                        } else if (neg.remove(v)) {
                            maybeNeg.add(v); // not specified whether iova_free drops cached misses
                        }
                    }
                    dead.add(m);
                }
                case Link l -> link(op, l);
                case Unlink u -> {
                    if (ranges.isEmpty()) {
                        return;
                    }
                    int i = u.range() % ranges.size();
                    RangeM m = ranges.get(i);
                    int page = u.page() % m.pages();
                    Set<ErrorCode> allowed = new HashSet<>();
                    if (page + u.count() > m.pages()) {
                        allowed.add(ErrorCode.ERANGE);
                    } else {
                        long first = m.iova() + page * K4, end = first + u.count() * K4;
                        for (long v = first; v < end; v += K4) {
                            if (!pt.containsKey(v)) {
                                allowed.add(ErrorCode.ENOENT);
                            }
                        }
                        PageM head = pt.get(first), tail = pt.get(end - K4);
                        if ((head != null && head.leafIova() != first)
                                || (tail != null && tail.leafIova() + tail.leafSize() != end)) {
                            allowed.add(ErrorCode.EINVAL);
                        }
                    }
                    ErrorCode got = outcome(() -> real.get(i).unlink(page * K4, u.count() * K4));
                    expectOutcome(where(op), got, allowed);
                    if (got == null) {
                        for (int p = page; p < page + u.count(); p++) {
                            long v = m.iova() + p * K4;
                            pt.remove(v);
                            neg.remove(v);
                            maybeNeg.remove(v);
                        }
                    }
                }
                case Sync s -> {
                    if (ranges.isEmpty()) {
                        return;
                    }
                    int i = s.range() % ranges.size();
                    RangeM m = ranges.get(i);
                    int page = s.page() % m.pages();
                    Set<ErrorCode> allowed = page + s.count() > m.pages() ? Set.of(ErrorCode.ERANGE) : Set.of();
                    ErrorCode got = outcome(() -> real.get(i).sync(page * K4, s.count() * K4));
                    expectOutcome(where(op), got, allowed);
                    if (got == null) {
                        for (int p = page; p < page + s.count(); p++) {
                            neg.remove(m.iova() + p * K4);
                            maybeNeg.remove(m.iova() + p * K4);
                        }
                    }
                }
                case Grant g -> {
                    Set<ErrorCode> allowed = new HashSet<>();
                    if (g.prot() < 1 || g.prot() > 3) {
                        allowed.add(ErrorCode.EINVAL);
                    }
                    for (int p = g.pfn(); p < g.pfn() + g.count(); p++) {
                        if (grants.containsKey(base1 + p)) {
                            allowed.add(ErrorCode.EEXIST);
                        }
                    }
                    ErrorCode got = outcome(() -> peer.grant(1, 0, base1 + g.pfn(), g.count(), g.prot()));
                    expectOutcome(where(op), got, allowed);
                    if (got == null) {
                        for (int p = g.pfn(); p < g.pfn() + g.count(); p++) {
                            grants.put(base1 + p, g.prot());
                        }
                    }
                }
                case Revoke r -> {
                    Set<ErrorCode> allowed = new HashSet<>();
                    for (int p = r.pfn(); p < r.pfn() + r.count(); p++) {
                        if (!grants.containsKey(base1 + p)) {
                            allowed.add(ErrorCode.ENOENT);
                        }
                    }
                    ErrorCode got = outcome(() -> peer.revoke(1, 0, base1 + r.pfn(), r.count()));
                    expectOutcome(where(op), got, allowed);
                    if (got == null) {
                        for (int p = r.pfn(); p < r.pfn() + r.count(); p++) {
                            grants.remove(base1 + p);
                        }
                    }
                }
                case Translate t -> translate(op, t);
                case TranslatePhys t -> {
                    long pfn = t.pfn() < MEM1_PAGES ? base1 + t.pfn() : base1 + MEM1_PAGES;
                    FabricAddress fa = FabricAddress.physical(1, (pfn << 12) + t.byteOffset());
                    Translation[] res = new Translation[1];
                    ErrorCode got = outcome(() -> res[0] = dev.translate(0, fa, t.access()));
                    Integer g = grants.get(pfn);
                    if (g != null && (g & t.access()) != 0) {
                        expectOutcome(where(op), got, Set.of());
                        assertThat(res[0]).usingRecursiveComparison().ignoringFields("tlbHit").as(where(op))
                                .isEqualTo(new Translation(1, (pfn << 12) + t.byteOffset(), K4, g, false));
                    } else {
                        expectOutcome(where(op), got, Set.of(ErrorCode.EACCES));
                    }
                }
            }
        }

        void link(Op op, Link l) {
            if (ranges.isEmpty()) {
                return;
            }
            int i = l.range() % ranges.size();
            RangeM m = ranges.get(i);
            int page = l.page() % m.pages();
            int n = l.count();
            int memPages = l.target() == 0 ? MEM0_PAGES : MEM1_PAGES;
            long base = l.target() == 0 ? base0 : base1;
            long[] pfns = new long[n];
            switch (l.pfnKind()) {
                case 0, 1 -> {
                    // target 1: mostly PFNs the grants cover (the first 48)
                    int start = l.pfnKind() == 0 ? (l.pfnStart() % 3 == 0 ? 0 : (l.pfnStart() * 16) % memPages)
                            : l.target() == 1 ? l.pfnStart() % 48 : l.pfnStart() % memPages;
                    for (int k = 0; k < n; k++) {
                        pfns[k] = base + (start + k) % memPages;
                    }
                }
                default -> {
                    Random rnd = new Random(l.pfnStart());
                    for (int k = 0; k < n; k++) {
                        pfns[k] = base + rnd.nextInt(memPages);
                    }
                    if (l.pfnKind() == 3) {
                        pfns[rnd.nextInt(n)] = base + memPages + 8 * 1024 * 1024 / K4; // past the 8 MiB memory
                    }
                }
            }
            Set<ErrorCode> allowed = new HashSet<>();
            if (l.prot() < 1 || l.prot() > 3) {
                allowed.add(ErrorCode.EINVAL);
            }
            if (page + n > m.pages()) {
                allowed.add(ErrorCode.ERANGE);
            }
            if (l.pfnKind() == 3) {
                allowed.add(ErrorCode.ERANGE);
            }
            for (int k = 0; k < n && page + k < m.pages(); k++) {
                if (pt.containsKey(m.iova() + (page + k) * K4)) {
                    allowed.add(ErrorCode.EBUSY);
                }
            }
            ErrorCode got = outcome(() -> real.get(i).link(page * K4, l.target(), pfns, l.prot()));
            expectOutcome(where(op), got, allowed);
            stat("link", got == null ? "ok" : got.name());
            if (got != null) {
                return;
            }
            int k = 0;
            while (k < n) {
                long v = m.iova() + (page + k) * K4;
                long size = K4;
                if (v % M2 == 0 && fits(pfns, k, 512)) {
                    size = M2;
                } else if (v % K64 == 0 && fits(pfns, k, 16)) {
                    size = K64;
                }
                for (int j = 0; j < size / K4; j++) {
                    pt.put(v + j * K4, new PageM(l.target(), pfns[k + j], l.prot(), v, size));
                }
                k += (int) (size / K4);
            }
        }

        /** {@code len} contiguous PFNs from {@code k}, the first aligned to {@code len}. */
        static boolean fits(long[] pfns, int k, int len) {
            if (k + len > pfns.length || pfns[k] % len != 0) {
                return false;
            }
            for (int j = 1; j < len; j++) {
                if (pfns[k + j] != pfns[k] + j) {
                    return false;
                }
            }
            return true;
        }

        void translate(Op op, Translate t) {
            RangeM m;
            int total = ranges.size() + dead.size();
            if (total == 0) {
                return;
            }
            // mostly live ranges; every fifth translation goes to a range that was freed (if any)
            m = (t.range() % 5 == 0 && !dead.isEmpty()) || ranges.isEmpty()
                    ? dead.get(t.range() % dead.size())
                    : ranges.get(t.range() % ranges.size());
            long v = m.iova() + (t.page() % m.pages()) * K4;
            FabricAddress fa = FabricAddress.iova(v + t.byteOffset());
            Translation[] res = new Translation[1];
            ErrorCode got = outcome(() -> res[0] = dev.translate(0, fa, t.access()));
            String where = where(op) + " translate " + fa;
            PageM e = pt.get(v);
            if (e == null) {
                assertThat(got).as(where + ": expected EFAULT (not present)").isEqualTo(ErrorCode.EFAULT);
                stat("translate", "not present");
                neg.add(v); // cached now, whether it was before or not
                maybeNeg.remove(v);
                return;
            }
            if (neg.contains(v) && !forgetNegativeCaching) {
                assertThat(got).as(where + ": expected EFAULT (cached miss, no sync since the link)")
                        .isEqualTo(ErrorCode.EFAULT);
                stat("translate", "stale miss");
                return;
            }
            if (maybeNeg.contains(v)) {
                if (got == ErrorCode.EFAULT) {
                    if ((e.prot() & t.access()) != 0) {
                        maybeNeg.remove(v); // it was still cached
                        neg.add(v);
                    }
                    return; // otherwise a protection fault or a cached miss: both fail alike
                }
                maybeNeg.remove(v); // it was dropped: the walk cached the present translation
            }
            if ((e.prot() & t.access()) == 0) {
                assertThat(got).as(where + ": expected EFAULT (protection)").isEqualTo(ErrorCode.EFAULT);
                stat("translate", "protection fault");
                return;
            }
            if (e.target() != 0) {
                Integer g = grants.get(e.pfn());
                if (g == null || (g & t.access()) == 0) {
                    assertThat(got).as(where + ": expected EACCES").isEqualTo(ErrorCode.EACCES);
                    stat("translate", "refused by target 1");
                    return;
                }
            }
            assertThat(got).as(where + ": expected success").isNull();
            stat("translate", "hit " + e.leafSize() / 1024 + "K target " + e.target());
            Translation x = res[0];
            assertThat(x.target()).as(where + " target").isEqualTo(e.target());
            assertThat(x.phys()).as(where + " phys").isEqualTo((e.pfn() << 12) + t.byteOffset());
            assertThat(x.prot()).as(where + " prot").isEqualTo(e.prot());
            assertThat(x.pageSize()).as(where + " page size").isEqualTo(e.leafSize());
        }

        void compareState(Op op) {
            List<Mapping> expected = new ArrayList<>();
            for (var en : pt.entrySet()) {
                PageM p = en.getValue();
                if (p.leafIova() == en.getKey()) {
                    expected.add(new Mapping(p.leafIova(), p.pfn() << 12, p.leafSize(), p.target(),
                            p.leafSize() == M2 ? 2 : 1, p.prot()));
                }
            }
            assertThat(dev.dump()).as(where(op) + " dump").isEqualTo(expected);
            DeviceInfo info = dev.info();
            assertThat(info.mappedPages()).as(where(op) + " mapped_pages").isEqualTo(pt.size());
            assertThat(info.iovaRanges()).as(where(op) + " iova_ranges").isEqualTo(ranges.size());
        }
    }
}
