package io.ualbridge.bench;

import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;

/** The same operations as {@link FfmBench} through JNA: what a user of JNA (or hand-written glue) would pay. */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class JnaBench {
    static final int RW = 3;
    static final int READ = 1;

    /** Device state shared by the state classes (JMH annotations live on the subclasses only). */
    public abstract static class Base {
        Pointer dev;
        long iova;
        long[] pfns;
        long[] contig;
        Memory scratch = new Memory(64);
        Pointer xlate = scratch.share(32);

        /** JMH gives each state class its own instance: subclasses call this from their single setup method. */
        final void open() {
            Memory out = new Memory(8);
            JnaUal.check(JnaUal.ual_open(Params.URI, out), "open");
            dev = out.getPointer(0);
            JnaUal.check(JnaUal.ual_mem_alloc(dev, 2L * Params.LINK_PAGES * Params.PAGE, Params.TWO_MIB, out),
                    "mem_alloc");
            pfns = Params.scattered(out.getLong(0), Params.LINK_PAGES);
            JnaUal.check(JnaUal.ual_mem_alloc(dev, Params.TWO_MIB, Params.TWO_MIB, out), "mem_alloc");
            long c = out.getLong(0);
            contig = new long[512];
            for (int i = 0; i < 512; i++) {
                contig[i] = c + i;
            }
            JnaUal.check(JnaUal.ual_iova_alloc(dev, Params.LINK_PAGES * Params.PAGE, 1, out), "iova_alloc");
            iova = out.getLong(0);
        }

        final void shutdown() {
            JnaUal.ual_close(dev);
        }
    }

    @State(Scope.Thread)
    public static class Dev extends Base {
        @Setup(Level.Trial)
        public void setup() {
            open();
        }

        @TearDown(Level.Trial)
        public void close() {
            shutdown();
        }
    }

    @State(Scope.Thread)
    public static class Batch extends Base {
        @Param({"1", "16", "512", "4096"})
        int batch;
        long[] batchPfns;
        Memory pfnMem;
        Memory addrs;

        @Setup(Level.Trial)
        public void setup() {
            open();
            batchPfns = java.util.Arrays.copyOf(pfns, batch);
            pfnMem = new Memory(8L * batch);
            pfnMem.write(0, batchPfns, 0, batch);
            addrs = new Memory(16L * batch);
        }

        @TearDown(Level.Trial)
        public void close() {
            shutdown();
        }
    }

    @State(Scope.Thread)
    public static class Linked extends Base {
        long[] cycle;
        int next;

        @Setup(Level.Trial)
        public void setup() {
            open();
            JnaUal.check(JnaUal.ual_iova_link(dev, iova, 0, 0, pfns, Params.LINK_PAGES, RW), "iova_link");
            cycle = Params.missCycle(iova);
        }

        @TearDown(Level.Trial)
        public void close() {
            JnaUal.check(JnaUal.ual_iova_unlink(dev, iova, 0, Params.LINK_PAGES * Params.PAGE), "iova_unlink");
            shutdown();
        }
    }

    @State(Scope.Thread)
    public static class Live {
        @Param({"1000", "1000000"})
        int live;
        Pointer dev;
        Memory out = new Memory(8);

        @Setup(Level.Trial)
        public void fill() {
            JnaUal.check(JnaUal.ual_open(Params.ALLOC_URI, out), "open");
            dev = out.getPointer(0);
            for (int i = 0; i < live; i++) {
                JnaUal.check(JnaUal.ual_iova_alloc(dev, Params.PAGE, 0, out), "iova_alloc");
            }
        }

        @TearDown(Level.Trial)
        public void close() {
            JnaUal.ual_close(dev);
        }
    }

    /**
     * A loop of {@value Params#TRIVIAL_LOOP} calls summed into one result, exactly as native/bench's loop: the
     * per-call figure is the crossing, not JMH's per-invocation bookkeeping (about 1 ns, which would otherwise
     * be counted against a call of under 1 ns in C).
     */
    @Benchmark
    @OperationsPerInvocation(Params.TRIVIAL_LOOP)
    public int trivial_call() {
        int s = 0;
        for (int i = 0; i < Params.TRIVIAL_LOOP; i++) {
            s += JnaUal.ual_abi_version();
        }
        return s;
    }

    @Benchmark
    public void link_unlink(Batch b) {
        JnaUal.check(JnaUal.ual_iova_link(b.dev, b.iova, 0, 0, b.batchPfns, b.batch, RW), "iova_link");
        JnaUal.check(JnaUal.ual_iova_unlink(b.dev, b.iova, 0, b.batch * Params.PAGE), "iova_unlink");
    }

    @Benchmark
    public void link_unlink_512_2m(Dev d) {
        JnaUal.check(JnaUal.ual_iova_link(d.dev, d.iova, 0, 0, d.contig, 512, RW), "iova_link");
        JnaUal.check(JnaUal.ual_iova_unlink(d.dev, d.iova, 0, Params.TWO_MIB), "iova_unlink");
    }

    @Benchmark
    public Pointer map_pfns(Batch b) {
        JnaUal.check(JnaUal.ual_map_pfns(b.dev, 0, b.pfnMem, b.batch, RW, b.addrs), "map_pfns");
        return b.addrs;
    }

    @Benchmark
    public long translate_hit(Linked l) {
        Memory s = l.scratch;
        s.setLong(0, l.iova + 5 * Params.PAGE + 64);
        s.setLong(8, 0);
        JnaUal.check(JnaUal.ual_translate(l.dev, 0, s, READ, l.xlate), "translate");
        return s.getLong(40);
    }

    @Benchmark
    public long translate_miss(Linked l) {
        int i = l.next;
        l.next = i + 1 == l.cycle.length ? 0 : i + 1;
        Memory s = l.scratch;
        s.setLong(0, l.cycle[i]);
        s.setLong(8, 0);
        JnaUal.check(JnaUal.ual_translate(l.dev, 0, s, READ, l.xlate), "translate");
        return s.getLong(40);
    }

    @Benchmark
    public void iova_alloc_free(Live s) {
        JnaUal.check(JnaUal.ual_iova_alloc(s.dev, Params.PAGE, 0, s.out), "iova_alloc");
        JnaUal.check(JnaUal.ual_iova_free(s.dev, s.out.getLong(0)), "iova_free");
    }
}
