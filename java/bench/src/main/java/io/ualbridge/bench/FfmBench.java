package io.ualbridge.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
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

import io.ualbridge.Access;
import io.ualbridge.DeviceMemory;
import io.ualbridge.FabricAddress;
import io.ualbridge.IovaRange;
import io.ualbridge.Prot;
import io.ualbridge.Translation;
import io.ualbridge.Translator;
import io.ualbridge.Ual;
import io.ualbridge.UalDevice;

/**
 * The ualbridge public API (FFM) doing what native/bench/bench.c does in C. Method names are the operation names
 * of the report table.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class FfmBench {

    /** A device with a PREALLOC range of 4096 pages, scattered and 2 MiB-contiguous PFNs. */
    /** Device state shared by the state classes (JMH annotations live on the subclasses only). */
    public abstract static class Base {
        UalDevice dev;
        DeviceMemory block;
        DeviceMemory contigBlock;
        IovaRange range;
        long[] pfns;
        long[] contig;

        /** JMH gives each state class its own instance: subclasses call this from their single setup method. */
        final void open() {
            dev = UalDevice.open(Params.URI);
            block = dev.allocMemory(2L * Params.LINK_PAGES * Params.PAGE, Params.TWO_MIB);
            contigBlock = dev.allocMemory(Params.TWO_MIB, Params.TWO_MIB);
            range = dev.allocIova(Params.LINK_PAGES * Params.PAGE, IovaRange.PREALLOC);
            pfns = Params.scattered(block.firstPfn(), Params.LINK_PAGES);
            contig = contigBlock.pfns();
        }

        final void shutdown() {
            dev.close();
        }
    }

    /** A batch of scattered PFNs, as a long[] (link) and in native memory (map_pfns, zero-copy form). */
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
        MemorySegment pfnSeg;
        MemorySegment addrs;
        Arena arena;

        @Setup(Level.Trial)
        public void setup() {
            open();
            long[] pfns = java.util.Arrays.copyOf(this.pfns, batch);
            batchPfns = pfns;
            arena = Arena.ofConfined();
            pfnSeg = arena.allocate(ValueLayout.JAVA_LONG, batch);
            MemorySegment.copy(pfns, 0, pfnSeg, ValueLayout.JAVA_LONG, 0, batch);
            addrs = arena.allocate(16L * batch, 16);
        }

        @TearDown(Level.Trial)
        public void close() {
            arena.close();
            shutdown();
        }
    }

    /** The whole range linked, for translate. */
    @State(Scope.Thread)
    public static class Linked extends Base {
        FabricAddress hit;
        long hitIova;
        long[] cycle;
        int next;
        /** Created on the benchmark thread (JMH runs Scope.Thread setup there), as a translator must be. */
        Translator translator;

        @Setup(Level.Trial)
        public void setup() {
            open();
            range.link(0, 0, pfns, Prot.RW);
            hitIova = range.iova() + 5 * Params.PAGE + 64;
            hit = FabricAddress.iova(hitIova);
            cycle = Params.missCycle(range.iova());
            translator = dev.translator();
        }

        @TearDown(Level.Trial)
        public void close() {
            translator.close();
            range.unlink(0, Params.LINK_PAGES * Params.PAGE);
            shutdown();
        }
    }

    /** A device with {@code live} IOVA ranges in place. */
    @State(Scope.Thread)
    public static class Live {
        @Param({"1000", "1000000"})
        int live;
        UalDevice dev;
        List<IovaRange> ranges;

        @Setup(Level.Trial)
        public void fill() {
            dev = UalDevice.open(Params.ALLOC_URI);
            ranges = new ArrayList<>(live);
            for (int i = 0; i < live; i++) {
                ranges.add(dev.allocIova(Params.PAGE, 0));
            }
        }

        @TearDown(Level.Trial)
        public void close() {
            dev.close();
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
            s += Ual.abiVersion();
        }
        return s;
    }

    @Benchmark
    public void link_unlink(Batch b) {
        b.range.link(0, 0, b.batchPfns, Prot.RW);
        b.range.unlink(0, b.batch * Params.PAGE);
    }

    @Benchmark
    public void link_unlink_512_2m(Dev d) {
        d.range.link(0, 0, d.contig, Prot.RW);
        d.range.unlink(0, Params.TWO_MIB);
    }

    @Benchmark
    public MemorySegment map_pfns(Batch b) {
        b.dev.mapPfns(0, b.pfnSeg, b.batch, Prot.RW, b.addrs);
        return b.addrs;
    }

    /** The allocation-free form ({@link Translator}), as a hot loop would use it. */
    @Benchmark
    public long translate_hit(Linked l) {
        Translator t = l.translator;
        if (t.translate(0, false, 0, l.hitIova, Access.READ) != 0) {
            throw new IllegalStateException("translate failed");
        }
        return t.phys();
    }

    /** The convenience form: a FabricAddress in, a new Translation record out. */
    @Benchmark
    public long translate_hit_record(Linked l) {
        Translation t = l.dev.translate(0, l.hit, Access.READ);
        return t.phys();
    }

    @Benchmark
    public long translate_miss(Linked l) {
        int i = l.next;
        l.next = i + 1 == l.cycle.length ? 0 : i + 1;
        Translator t = l.translator;
        if (t.translate(0, false, 0, l.cycle[i], Access.READ) != 0) {
            throw new IllegalStateException("translate failed");
        }
        return t.phys();
    }

    @Benchmark
    public void iova_alloc_free(Live s) {
        s.dev.allocIova(Params.PAGE, 0).close();
    }
}
