package io.ualbridge.conformance;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.function.Function;
import java.util.zip.CRC32;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.ualbridge.DeviceInfo;
import io.ualbridge.DeviceMemory;
import io.ualbridge.FabricAddress;
import io.ualbridge.Fault;
import io.ualbridge.FaultBatch;
import io.ualbridge.HostBuffer;
import io.ualbridge.IovaRange;
import io.ualbridge.Mapping;
import io.ualbridge.Prot;
import io.ualbridge.Translation;
import io.ualbridge.UalDevice;
import io.ualbridge.UalException;

/**
 * Differential test of two backends: runs the same seeded random sequence of operations (memory, host buffers,
 * grants, map_pfns, IOVA alloc/link/sync/unlink/free, translate, copy, fault reads, dumps, info, bad inputs)
 * against two URIs and compares the normalized results op by op, stopping at the first divergence.
 *
 * <p>Operations are drawn from an abstract model (block #3, range #1) so both sides get the same operation even
 * though their objects are distinct; the model advances only on results both sides agree on. Normalization
 * keeps what the ABI fixes and drops what it leaves to the backend: error codes are compared but not messages;
 * host PFNs (real frames on a kernel backend) become {@code host#i+page}; fault sequence numbers are counted from
 * the first one each side reports; the backend's name is not compared.
 */
public final class Differential {
    private static final Logger LOG = LoggerFactory.getLogger(Differential.class);
    private static final long K4 = 4096;
    private static final long HOST_PFN_BASE = CheckContext.HOST_BASE >>> 12;
    private static final int MAX_ACCELS = 4;

    /**
     * What to run.
     *
     * @param seed          seed of the operation sequence
     * @param ops           number of operations
     * @param compareConfig compare the fabrics' configuration (info() limits and sizes) as the first step; when
     *                      false only behaviour is compared
     */
    public record Options(long seed, int ops, boolean compareConfig) {
        /**
         * Validates.
         *
         * @throws IllegalArgumentException for a negative op count
         */
        public Options {
            if (ops < 0) {
                throw new IllegalArgumentException("ops must be >= 0 (was " + ops + ")");
            }
        }
    }

    /**
     * One operation and what each side made of it.
     *
     * @param index   0-based position (0 is the opening step)
     * @param op      the operation, in words
     * @param resultA normalized result on the first URI
     * @param resultB normalized result on the second URI
     */
    public record Step(int index, String op, String resultA, String resultB) {
        /** @return true if both sides agree */
        public boolean same() {
            return resultA.equals(resultB);
        }
    }

    /**
     * The outcome of a differential run.
     *
     * @param uriA            first URI
     * @param uriB            second URI
     * @param options         what was run
     * @param steps           every step run, the divergent one last if any
     * @param firstDivergence the first step where the sides disagree, or null
     */
    public record Report(String uriA, String uriB, Options options, List<Step> steps, Step firstDivergence) {
        /**
         * Copies the steps.
         */
        public Report {
            steps = List.copyOf(steps);
        }

        /** @return true if the sides agreed on every step */
        public boolean identical() {
            return firstDivergence == null;
        }

        /** @return how many operations were compared (without the opening step) */
        public int opsRun() {
            return Math.max(0, steps.size() - 1);
        }
    }

    private Differential() {
    }

    /**
     * Runs the differential test.
     *
     * @param uriA    first URI
     * @param uriB    second URI
     * @param options seed, length, whether to compare configurations
     * @return the report
     * @throws UalException if a URI cannot be opened
     */
    public static Report run(String uriA, String uriB, Options options) {
        Objects.requireNonNull(uriA, "uriA");
        Objects.requireNonNull(uriB, "uriB");
        List<Step> steps = new ArrayList<>();
        try (Side a = new Side(UalDevice.open(uriA)); Side b = new Side(UalDevice.open(uriB))) {
            Step open = new Step(0, "open", a.open(options.compareConfig()), b.open(options.compareConfig()));
            steps.add(open);
            if (!open.same()) {
                return new Report(uriA, uriB, options, steps, open);
            }
            Model m = new Model(new Random(options.seed()), a.info, a.hostOk && b.hostOk, a.cpuOk && b.cpuOk);
            for (int k = 1; k <= options.ops(); k++) {
                Op op = m.next();
                Step s = new Step(k, op.what, a.apply(op), b.apply(op));
                steps.add(s);
                if (!s.same()) {
                    LOG.debug("diverged at op {} {}: {} vs {}", k, op.what, s.resultA(), s.resultB());
                    return new Report(uriA, uriB, options, steps, s);
                }
                op.commit.accept(s.resultA());
            }
        }
        return new Report(uriA, uriB, options, steps, null);
    }

    // ---- operations ---------------------------------------------------------------------------------------------

    /** One operation: what it is, how a side runs it, how the model changes when both agree. */
    private record Op(String what, Function<Side, String> run, java.util.function.Consumer<String> commit) {
    }

    private record Block(int id, int accel, long pages) {
    }

    private record Range(int id, int accel, long size) {
    }

    private record Grant(int target, int initiator, int block, long first, long pages) {
    }

    /** The abstract state both sides share and the random choices made from it. */
    private static final class Model {
        final Random rnd;
        final int accels;
        final boolean physical;
        final boolean virtual;
        final boolean host;
        final boolean cpu;
        final long memPages;
        final List<Block> blocks = new ArrayList<>();
        final List<Range> ranges = new ArrayList<>();
        final List<Grant> grants = new ArrayList<>();
        final List<Integer> hosts = new ArrayList<>();
        int nextId;

        Model(Random rnd, DeviceInfo i, boolean host, boolean cpu) {
            this.rnd = rnd;
            this.accels = Math.min(i.acceleratorCount(), MAX_ACCELS);
            this.physical = i.supportsPhysical();
            this.virtual = i.supportsVirtual();
            this.host = host;
            this.cpu = cpu;
            this.memPages = i.memorySize() / K4;
        }

        int accel() {
            return rnd.nextInt(accels);
        }

        <T> T pick(List<T> l) {
            return l.get(rnd.nextInt(l.size()));
        }

        Op next() {
            while (true) {
                Op op = switch (rnd.nextInt(20)) {
                    case 0, 1 -> memAlloc();
                    case 2 -> blocks.size() > 6 ? memFree() : memAlloc();
                    case 3 -> blocks.isEmpty() || !cpu ? null : memWrite();
                    case 4 -> blocks.isEmpty() || !cpu ? null : memRead();
                    case 5 -> blocks.isEmpty() || accels < 2 ? null : grant();
                    case 6 -> grants.isEmpty() ? null : revoke();
                    case 7 -> blocks.isEmpty() ? null : mapPfns();
                    case 8 -> virtual ? iovaAlloc() : null;
                    case 9, 10 -> ranges.isEmpty() || blocks.isEmpty() ? null : link();
                    case 11 -> ranges.isEmpty() ? null : sync();
                    case 12 -> ranges.isEmpty() ? null : unlink();
                    case 13 -> ranges.size() > 4 ? iovaFree() : null;
                    case 14, 15 -> translate();
                    case 16 -> blocks.size() < 1 ? null : copy();
                    case 17 -> faultRead();
                    case 18 -> rnd.nextBoolean() ? dump() : info();
                    default -> rnd.nextInt(3) == 0 && host ? hostAlloc() : badInput();
                };
                if (op != null) {
                    return op;
                }
            }
        }

        Op memAlloc() {
            int accel = accel();
            long pages = 1L << rnd.nextInt(6);
            long align = rnd.nextInt(4) == 0 ? K4 << rnd.nextInt(5) : 0;
            int id = nextId++;
            return new Op(String.format("mem_alloc#%d accel=%d pages=%d align=%d", id, accel, pages, align),
                    s -> s.memAlloc(id, accel, pages, align),
                    r -> blocks.add(new Block(id, accel, pages)));
        }

        Op memFree() {
            Block b = pick(blocks);
            return new Op("mem_free#" + b.id(), s -> s.closeMem(b.id()), r -> {
                blocks.remove(b);
                grants.removeIf(g -> g.block() == b.id());
            });
        }

        Op memWrite() {
            Block b = pick(blocks);
            long off = rnd.nextLong(b.pages() * K4 - 64);
            int len = 1 + rnd.nextInt(512);
            long len2 = Math.min(len, b.pages() * K4 - off);
            long seed = rnd.nextLong();
            return new Op(String.format("mem_write#%d +%d len=%d", b.id(), off, len2),
                    s -> s.memWrite(b.id(), off, (int) len2, seed), r -> { });
        }

        Op memRead() {
            Block b = pick(blocks);
            return new Op("mem_read#" + b.id(), s -> s.memRead(b.id()), r -> { });
        }

        Op grant() {
            Block b = pick(blocks);
            int init = (b.accel() + 1 + rnd.nextInt(accels - 1)) % accels;
            long first = rnd.nextLong(b.pages());
            long pages = 1 + rnd.nextLong(b.pages() - first);
            int prot = 1 + rnd.nextInt(3);
            return new Op(String.format("grant mem#%d+%d pages=%d to=%d prot=%s", b.id(), first, pages, init,
                    Prot.toString(prot)), s -> s.grant(b, init, first, pages, prot),
                    r -> grants.add(new Grant(b.accel(), init, b.id(), first, pages)));
        }

        Op revoke() {
            Grant g = pick(grants);
            long first = g.first() + rnd.nextLong(g.pages());
            long pages = 1 + rnd.nextLong(g.first() + g.pages() - first);
            return new Op(String.format("revoke mem#%d+%d pages=%d from=%d", g.block(), first, pages, g.initiator()),
                    s -> s.revoke(g, first, pages), r -> {
                        grants.remove(g);
                        if (first > g.first()) {
                            grants.add(new Grant(g.target(), g.initiator(), g.block(), g.first(), first - g.first()));
                        }
                        long end = g.first() + g.pages();
                        if (first + pages < end) {
                            grants.add(new Grant(g.target(), g.initiator(), g.block(), first + pages,
                                    end - first - pages));
                        }
                    });
        }

        Op mapPfns() {
            int accel = accel();
            boolean useHost = host && !hosts.isEmpty() && rnd.nextBoolean();
            int hostId = useHost ? pick(hosts) : -1;
            Block b = pick(blocks);
            int prot = rnd.nextInt(5); // 0 and 4 are bad
            return new Op(String.format("map_pfns by=%d %s prot=%d", accel, useHost ? "host#" + hostId
                    : "mem#" + b.id(), prot), s -> s.mapPfns(accel, useHost ? hostId : -1, b, prot), r -> { });
        }

        Op iovaAlloc() {
            int accel = accel();
            long size = rnd.nextInt(4) == 0 ? (2L << 20) << rnd.nextInt(2) : K4 * (1 + rnd.nextInt(48));
            int flags = rnd.nextInt(3) == 0 ? IovaRange.PREALLOC : 0;
            int id = nextId++;
            return new Op(String.format("iova_alloc#%d accel=%d size=%d flags=%d", id, accel, size, flags),
                    s -> s.iovaAlloc(id, accel, size, flags), r -> ranges.add(new Range(id, accel, size)));
        }

        Op link() {
            Range r = pick(ranges);
            Block b = pick(blocks);
            long off = rnd.nextLong(r.size() / K4) * K4;
            long first = rnd.nextLong(b.pages());
            long n = 1 + rnd.nextLong(Math.min(b.pages() - first, 16));
            int prot = 1 + rnd.nextInt(3);
            return new Op(String.format("link iova#%d +%d <- mem#%d+%d pages=%d prot=%s", r.id(), off, b.id(), first,
                    n, Prot.toString(prot)), s -> s.link(r.id(), off, b, first, n, prot), x -> { });
        }

        Op sync() {
            Range r = pick(ranges);
            long off = rnd.nextLong(r.size() / K4) * K4;
            long len = K4 * (1 + rnd.nextLong(r.size() / K4 - off / K4));
            return new Op(String.format("sync iova#%d +%d len=%d", r.id(), off, len),
                    s -> s.rangeCall(r.id(), x -> x.sync(off, len)), x -> { });
        }

        Op unlink() {
            Range r = pick(ranges);
            long off = rnd.nextLong(r.size() / K4) * K4;
            long len = K4 * (1 + rnd.nextLong(Math.min(16, r.size() / K4 - off / K4)));
            return new Op(String.format("unlink iova#%d +%d len=%d", r.id(), off, len),
                    s -> s.rangeCall(r.id(), x -> x.unlink(off, len)), x -> { });
        }

        Op iovaFree() {
            Range r = pick(ranges);
            return new Op("iova_free#" + r.id(), s -> s.closeRange(r.id()), x -> ranges.remove(r));
        }

        /** An address: into a range, a block, a host buffer, or nowhere. */
        Function<Side, FabricAddress> address() {
            int kind = rnd.nextInt(4);
            if (kind == 0 && !ranges.isEmpty()) {
                Range r = pick(ranges);
                long off = rnd.nextLong(r.size() / 64) * 64;
                return s -> s.rangeAddress(r.id(), off);
            }
            if (kind == 1 && host && !hosts.isEmpty()) {
                int h = pick(hosts);
                return s -> s.hostAddress(h);
            }
            if (kind <= 2 && !blocks.isEmpty()) {
                Block b = pick(blocks);
                long off = rnd.nextLong(b.pages() * K4 / 64) * 64;
                return s -> s.blockAddress(b.id(), off);
            }
            int t = rnd.nextInt(accels + 1);
            long phys = rnd.nextLong(memPages + 8) * K4;
            return s -> FabricAddress.physical(t, phys);
        }

        Op translate() {
            int init = accel();
            Function<Side, FabricAddress> a = address();
            int access = 1 + rnd.nextInt(2);
            return new Op(String.format("translate by=%d access=%d", init, access),
                    s -> s.translate(init, a, access), x -> { });
        }

        Op copy() {
            int init = accel();
            Function<Side, FabricAddress> dst = address();
            Function<Side, FabricAddress> src = address();
            long len = 64L * (1 + rnd.nextInt(32));
            return new Op(String.format("copy by=%d len=%d", init, len), s -> s.copy(init, dst, src, len), x -> { });
        }

        Op faultRead() {
            int accel = accel();
            int max = rnd.nextInt(8) == 0 ? 0 : 1 + rnd.nextInt(64);
            return new Op(String.format("fault_read accel=%d max=%d", accel, max), s -> s.faults(accel, max), x -> { });
        }

        Op dump() {
            int accel = accel();
            return new Op("dump accel=" + accel, s -> s.dump(accel), x -> { });
        }

        Op info() {
            int accel = accel();
            return new Op("info accel=" + accel, s -> s.info(accel), x -> { });
        }

        Op hostAlloc() {
            int id = nextId++;
            long pages = 1 + rnd.nextInt(4);
            return new Op(String.format("host_register#%d pages=%d", id, pages), s -> s.hostAlloc(id, pages),
                    x -> hosts.add(id));
        }

        Op badInput() {
            int accel = accel();
            long wrap = -K4;
            return switch (rnd.nextInt(8)) {
                case 0 -> new Op("bad: mem_alloc 100 bytes", s -> s.call(() -> s.on(accel).allocMemory(100, 0)),
                        x -> { });
                case 1 -> new Op("bad: iova_alloc 4097 bytes", s -> s.call(() -> s.on(accel).allocIova(K4 + 1, 0)),
                        x -> { });
                case 2 -> new Op("bad: grant of another accelerator's pages", s -> s.call(
                        () -> s.on(accel).grant((accel + 1) % accels, accel, 0, 1, Prot.READ)), x -> { });
                case 3 -> new Op("bad: grant to an unknown initiator", s -> s.call(
                        () -> s.on(accel).grant(accel, MAX_ACCELS * 256, 0, 1, Prot.READ)), x -> { });
                case 4 -> new Op("bad: translate with access 3", s -> s.call(
                        () -> s.on(accel).translate(accel, FabricAddress.iova(K4), 3)), x -> { });
                case 5 -> new Op("bad: copy of 65 bytes", s -> s.call(
                        () -> s.on(accel).copy(accel, FabricAddress.iova(K4), FabricAddress.iova(2 * K4), 65)),
                        x -> { });
                case 6 -> new Op("bad: dump window wraps", s -> s.call(() -> s.on(accel).dump(wrap, 2 * K4)),
                        x -> { });
                default -> new Op("bad: map_pfns PFN outside memory", s -> s.call(
                        () -> s.on(accel).mapPfns(accel, new long[] {memPages}, Prot.READ)), x -> { });
            };
        }
    }

    // ---- one backend ------------------------------------------------------------------------------------------------

    /** The concrete objects of one URI behind the abstract ids, and the normalization of its results. */
    private static final class Side implements AutoCloseable {
        final UalDevice root;
        final DeviceInfo info;
        final Map<Integer, UalDevice> handles = new HashMap<>();
        final Map<Integer, DeviceMemory> mem = new HashMap<>();
        final Map<Integer, IovaRange> ranges = new HashMap<>();
        final Map<Integer, HostBuffer> hosts = new HashMap<>();
        final Map<Integer, Long> seqBase = new HashMap<>();
        final boolean hostOk;
        final boolean cpuOk;

        Side(UalDevice root) {
            this.root = root;
            this.info = root.info();
            handles.put(info.acceleratorId(), root);
            Capabilities caps = Capabilities.probe(root);
            hostOk = caps.has(Capability.HOST_REGISTRATION);
            cpuOk = caps.has(Capability.CPU_MEMORY_ACCESS);
        }

        UalDevice on(int accel) {
            return handles.computeIfAbsent(accel, root::openPeer);
        }

        String open(boolean config) {
            for (int a = 0; a < Math.min(info.acceleratorCount(), MAX_ACCELS); a++) {
                CheckContext.drainFaults(on(a)); // start from empty rings
            }
            DeviceInfo i = info;
            String s = String.format("accels=%d local=%d modes=%d", i.acceleratorCount(), i.acceleratorId(),
                    i.modes());
            if (config) {
                s += String.format(" physBits=%d dmaBits=%d levels=%d pageSizes=%s mem=%d ptPool=%d tlb=%d req=%d..%d",
                        i.physBits(), i.dmaBits(), i.pageTableLevels(), i.pageSizes(), i.memorySize(),
                        i.ptPoolPages(), i.tlbEntries(), i.requestMin(), i.requestMax());
            }
            return s;
        }

        String apply(Op op) {
            try {
                return op.run().apply(this);
            } catch (UalException e) {
                return "ERR " + e.error();
            } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
                return "REFUSED " + e.getClass().getSimpleName();
            }
        }

        String call(Runnable c) {
            c.run();
            return "ok";
        }

        String memAlloc(int id, int accel, long pages, long align) {
            DeviceMemory m = on(accel).allocMemory(pages * K4, align);
            mem.put(id, m);
            return "ok pfn=0x" + Long.toHexString(m.firstPfn());
        }

        String closeMem(int id) {
            mem.remove(id).close();
            return "ok";
        }

        String memWrite(int id, long off, int len, long seed) {
            byte[] b = new byte[len];
            new Random(seed).nextBytes(b);
            mem.get(id).write(off, b);
            return "ok";
        }

        String memRead(int id) {
            DeviceMemory m = mem.get(id);
            CRC32 crc = new CRC32();
            crc.update(m.read(0, (int) m.size()));
            return "ok crc=" + Long.toHexString(crc.getValue());
        }

        String grant(Block b, int init, long first, long pages, int prot) {
            on(b.accel()).grant(b.accel(), init, mem.get(b.id()).firstPfn() + first, pages, prot);
            return "ok";
        }

        String revoke(Grant g, long first, long pages) {
            on(g.target()).revoke(g.target(), g.initiator(), mem.get(g.block()).firstPfn() + first, pages);
            return "ok";
        }

        String mapPfns(int accel, int hostId, Block b, int prot) {
            long[] pfns;
            int target;
            if (hostId >= 0) {
                HostBuffer h = hosts.get(hostId);
                pfns = h.pfns();
                target = h.accelerator();
            } else {
                pfns = mem.get(b.id()).pfns();
                target = b.accel();
            }
            FabricAddress[] a = on(accel).mapPfns(target, pfns, prot);
            StringBuilder sb = new StringBuilder("ok");
            for (FabricAddress x : a) {
                sb.append(' ').append(norm(x));
            }
            return sb.toString();
        }

        String iovaAlloc(int id, int accel, long size, int flags) {
            IovaRange r = on(accel).allocIova(size, flags);
            ranges.put(id, r);
            return "ok iova=0x" + Long.toHexString(r.iova());
        }

        String link(int rangeId, long off, Block b, long first, long n, int prot) {
            long[] all = mem.get(b.id()).pfns();
            long[] pfns = java.util.Arrays.copyOfRange(all, (int) first, (int) (first + n));
            ranges.get(rangeId).link(off, b.accel(), pfns, prot);
            return "ok";
        }

        String rangeCall(int id, java.util.function.Consumer<IovaRange> c) {
            c.accept(ranges.get(id));
            return "ok";
        }

        String closeRange(int id) {
            ranges.remove(id).close();
            return "ok";
        }

        FabricAddress rangeAddress(int id, long off) {
            return ranges.get(id).address(off);
        }

        FabricAddress blockAddress(int id, long off) {
            return mem.get(id).physical(off);
        }

        FabricAddress hostAddress(int id) {
            return hosts.get(id).physical(0);
        }

        String translate(int init, Function<Side, FabricAddress> a, int access) {
            Translation t = on(init).translate(init, a.apply(this), access);
            return String.format("ok target=%d phys=%s size=%d prot=%s hit=%b", t.target(), normPhys(t.phys()),
                    t.pageSize(), Prot.toString(t.prot()), t.tlbHit());
        }

        String copy(int init, Function<Side, FabricAddress> dst, Function<Side, FabricAddress> src, long len) {
            on(init).copy(init, dst.apply(this), src.apply(this), len);
            if (hostOk) {
                // host buffers are the one place a DMA-only backend shows copied bytes
                CRC32 crc = new CRC32();
                hosts.keySet().stream().sorted().forEach(k -> crc.update(
                        hosts.get(k).segment().toArray(ValueLayout.JAVA_BYTE)));
                return "ok hosts=" + Long.toHexString(crc.getValue());
            }
            return "ok";
        }

        String faults(int accel, int max) {
            FaultBatch b = on(accel).readFaults(max);
            StringBuilder sb = new StringBuilder("ok lost=" + b.lost());
            for (Fault f : b.faults()) {
                long base = seqBase.computeIfAbsent(accel, k -> f.seq());
                sb.append(String.format(" [seq+%d %s init=%d tgt=%d acc=%d %s tlb=%b atTarget=%b len=%d]",
                        f.seq() - base, norm(f.address()), f.initiator(), f.target(), f.access(), f.reason(),
                        f.fromTlb(), f.atTarget(), f.length()));
            }
            return sb.toString();
        }

        String dump(int accel) {
            StringBuilder sb = new StringBuilder("ok");
            for (Mapping m : on(accel).dump()) {
                sb.append(String.format(" [0x%x %d L%d t=%d %s %s]", m.iova(), m.size(), m.level(), m.target(),
                        normPhys(m.phys()), Prot.toString(m.prot())));
            }
            return sb.toString();
        }

        String info(int accel) {
            DeviceInfo i = on(accel).info();
            return String.format("ok memFree=%d ptPoolFree=%d ranges=%d mapped=%d grants=%d tlbHits=%d tlbMisses=%d",
                    i.memoryFree(), i.ptPoolFree(), i.iovaRanges(), i.mappedPages(), i.grants(), i.tlbHits(),
                    i.tlbMisses());
        }

        String hostAlloc(int id, long pages) {
            HostBuffer h = root.allocateHostBuffer(pages * K4);
            MemorySegment seg = h.segment();
            for (long k = 0; k < seg.byteSize(); k++) {
                seg.set(ValueLayout.JAVA_BYTE, k, (byte) (id * 7 + k));
            }
            hosts.put(id, h);
            return "ok pages=" + h.pfns().length;
        }

        /** A host-aperture physical address as host#id+offset; device addresses as they are. */
        String normPhys(long phys) {
            if (phys >>> 12 < HOST_PFN_BASE) {
                return "0x" + Long.toHexString(phys);
            }
            long pfn = phys >>> 12;
            for (Map.Entry<Integer, HostBuffer> e : hosts.entrySet()) {
                long[] p = e.getValue().pfns();
                for (int k = 0; k < p.length; k++) {
                    if (p[k] == pfn) {
                        return "host#" + e.getKey() + "+" + (k * K4 + (phys & (K4 - 1)));
                    }
                }
            }
            return "host?";
        }

        String norm(FabricAddress a) {
            return a.routed() ? "phys(" + a.target() + "," + normPhys(a.address()) + ")" : "iova(0x"
                    + Long.toHexString(a.address()) + ")";
        }

        @Override
        public void close() {
            for (HostBuffer h : hosts.values()) {
                h.close();
            }
            for (UalDevice d : handles.values()) {
                if (d != root) {
                    d.close();
                }
            }
            root.close();
        }
    }

}
