package io.ualbridge.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ualbridge.Access;
import io.ualbridge.DeviceMemory;
import io.ualbridge.FabricAddress;
import io.ualbridge.Fault;
import io.ualbridge.FaultBatch;
import io.ualbridge.IovaRange;
import io.ualbridge.Prot;
import io.ualbridge.UalException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/** ualctl faults: drain and print fault rings, optionally after provoking faults. */
@Command(name = "faults", mixinStandardHelpOptions = true,
        description = {"Drain and print fault records (seq, initiator, target, address, access, reason, flags) and "
                + "the lost count of fault rings.",
            "A fresh fake fabric has no faults: --provoke issues refused requests first, from --initiator to the "
                + "local accelerator (no-grant: an ungranted read; grant-prot: a write under a read-only grant; "
                + "not-present: an unlinked IOVA; out-of-range: an address past the target's memory; bad-target: "
                + "a route to an accelerator the fabric lacks)."})
final class FaultsCommand extends BaseCommand {
    enum Kind {
        no_grant("no-grant"), grant_prot("grant-prot"), not_present("not-present"), out_of_range("out-of-range"),
        bad_target("bad-target");

        final String label;

        Kind(String label) {
            this.label = label;
        }

        static Kind parse(String s) {
            for (Kind k : values()) {
                if (k.label.equalsIgnoreCase(s) || k.name().equalsIgnoreCase(s)) {
                    return k;
                }
            }
            throw new picocli.CommandLine.TypeConversionException("'" + s + "' is not a fault kind: use no-grant, "
                    + "grant-prot, not-present, out-of-range or bad-target");
        }
    }

    @Option(names = "--provoke", paramLabel = "KIND", arity = "0..1", fallbackValue = "no-grant",
            converter = KindConverter.class,
            description = "Issue refused requests first: no-grant (the default KIND), grant-prot, not-present, "
                    + "out-of-range, bad-target.")
    Kind provoke;

    @Option(names = "--count", paramLabel = "N", defaultValue = "1",
            description = "Requests to provoke (more than the ring holds shows the lost count; default: "
                    + "${DEFAULT-VALUE}).")
    int count;

    @Option(names = "--initiator", paramLabel = "I",
            description = "Accelerator issuing the provoked requests (default: the one after the local accelerator).")
    Integer initiator;

    @Option(names = "--ring", paramLabel = "A", split = ",",
            description = "Accelerator(s) whose ring to drain (default: the local one, and the initiator with "
                    + "--provoke).")
    List<Integer> rings = new ArrayList<>();

    @Option(names = "--max", paramLabel = "N", defaultValue = "1024",
            description = "Records to drain per ring at most (default: ${DEFAULT-VALUE}).")
    int max;

    static final class KindConverter implements picocli.CommandLine.ITypeConverter<Kind> {
        @Override
        public Kind convert(String value) {
            return Kind.parse(value);
        }
    }

    @Override
    void validate() {
        if (count < 1) {
            throw usage("--count must be at least 1 (was " + count + ")");
        }
        if (max < 1) {
            throw usage("--max must be at least 1 (was " + max + ")");
        }
    }

    @Override
    int run(Session s) {
        int local = s.local();
        int init = s.accel("--initiator", initiator != null ? initiator : s.nextPeer());
        int refused = 0;
        String what = null;
        if (provoke != null && init == local && (provoke == Kind.no_grant || provoke == Kind.grant_prot)) {
            throw usage("--provoke " + provoke.label + " needs an --initiator other than the local accelerator "
                    + local + " (local requests need no grant)");
        }
        if (provoke != null) {
            FabricAddress addr;
            int access = Access.READ;
            switch (provoke) {
                case no_grant -> {
                    DeviceMemory m = s.track(s.device().allocMemory(MappingOptions.PAGE, 0));
                    addr = m.physical(0);
                    what = "reads of ungranted memory of accelerator " + local;
                }
                case grant_prot -> {
                    DeviceMemory m = s.track(s.device().allocMemory(MappingOptions.PAGE, 0));
                    if (init != local) {
                        s.device().grant(local, init, m.firstPfn(), 1, Prot.READ);
                    }
                    addr = m.physical(0);
                    access = Access.WRITE;
                    what = "writes to memory of accelerator " + local + " granted read-only";
                }
                case not_present -> {
                    IovaRange r = s.track(s.on(init).allocIova(MappingOptions.PAGE, 0));
                    addr = r.address(0);
                    what = "reads of an IOVA with no translation in accelerator " + init + "'s domain";
                }
                case out_of_range -> {
                    addr = FabricAddress.physical(local, s.info().memorySize() + MappingOptions.PAGE);
                    what = "reads past the end of accelerator " + local + "'s memory";
                }
                case bad_target -> {
                    if (s.count() >= 1024) {
                        throw usage("--provoke bad-target needs a fabric of fewer than 1024 accelerators");
                    }
                    addr = FabricAddress.physical(s.count(), 0);
                    what = "reads routed to accelerator " + s.count() + ", which the fabric lacks";
                }
                default -> throw new IllegalStateException();
            }
            note("provoking %d %s", count, what);
            for (int i = 0; i < count; i++) {
                try {
                    s.device().translate(init, addr, access);
                } catch (UalException e) {
                    refused++;
                }
            }
        }
        Set<Integer> ids = new LinkedHashSet<>();
        for (int r : rings) {
            ids.add(s.accel("--ring", r));
        }
        if (ids.isEmpty()) {
            if (provoke != null) {
                ids.add(init);
            }
            ids.add(local);
        }
        List<Integer> order = new ArrayList<>(ids);
        List<FaultBatch> batches = new ArrayList<>();
        for (int id : order) {
            batches.add(s.on(id).readFaults(max));
        }
        if (json()) {
            ObjectNode n = Json.object();
            n.put("uri", s.device().uri());
            if (provoke != null) {
                ObjectNode p = n.putObject("provoked");
                p.put("kind", provoke.label);
                p.put("initiator", init);
                p.put("requests", count);
                p.put("refused", refused);
            }
            ArrayNode a = n.putArray("rings");
            for (int i = 0; i < order.size(); i++) {
                ObjectNode r = Json.faults(batches.get(i));
                r.put("accelerator", order.get(i));
                a.add(r);
            }
            emit(n);
            return ExitCodes.OK;
        }
        PrintWriter out = out();
        if (provoke != null) {
            out.printf("Provoked %d %s by initiator %d: %d refused%n", count, what, init, refused);
        }
        for (int i = 0; i < order.size(); i++) {
            printRing(out, order.get(i), batches.get(i));
        }
        return ExitCodes.OK;
    }

    static void printRing(PrintWriter out, int accel, FaultBatch b) {
        out.printf("%nFault ring of accelerator %d: %s, %d lost%n", accel, Fmt.plural(b.faults().size(), "record"),
                b.lost());
        if (b.faults().isEmpty()) {
            return;
        }
        faultTable(b.faults()).print(out, "  ");
    }

    static Table faultTable(List<Fault> faults) {
        Table t = new Table("SEQ", "INITIATOR", "TARGET", "ADDRESS", "ACCESS", "REASON", "FLAGS", "LEN").rightAlign(0, 7);
        for (Fault f : faults) {
            t.row(f.seq(), f.initiator(), Fmt.accel(f.target()), Fmt.faddr(f.address()), Fmt.access(f.access()),
                    f.reason().name(), flags(f), f.length());
        }
        return t;
    }

    static String flags(Fault f) {
        List<String> fl = new ArrayList<>();
        if (f.fromTlb()) {
            fl.add("TLB");
        }
        if (f.atTarget()) {
            fl.add("AT_TARGET");
        }
        return fl.isEmpty() ? "-" : String.join(",", fl);
    }
}
