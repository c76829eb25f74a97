package io.ualbridge.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ualbridge.conformance.Differential;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.List;

/** ualctl diff: run one seeded random operation sequence on two URIs and report the first divergence. */
@Command(name = "diff", mixinStandardHelpOptions = true,
        description = {"Differential test: run the same seeded random sequence of operations (memory, grants, "
                + "map_pfns, IOVA alloc/link/sync/unlink/free, translate, copy, fault reads, dumps, bad inputs) on "
                + "--uri and on --against, compare the normalized results op by op and report the first divergence. "
                + "Error messages and host PFNs are not compared (backends may differ there); error codes are.",
            "Exit 0 if both sides agree on every operation, 4 at a divergence."})
final class DiffCommand extends BaseCommand {
    @Option(names = "--against", paramLabel = "URI", required = true,
            description = "The URI to compare --uri with, e.g. a fake: with a kernel module's parameters.")
    String against;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "1",
            description = "Seed of the operation sequence (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--ops", paramLabel = "N", defaultValue = "500",
            description = "Operations to run (default: ${DEFAULT-VALUE}).")
    int ops;

    @Option(names = "--ignore-config",
            description = "Do not compare the fabrics' configuration (sizes, limits); compare behaviour only.")
    boolean ignoreConfig;

    @Option(names = "--context", paramLabel = "N", defaultValue = "5",
            description = "Operations before a divergence to show (default: ${DEFAULT-VALUE}).")
    int context;

    @Override
    void validate() {
        if (ops < 0) {
            throw usage("--ops must be >= 0 (was " + ops + ")");
        }
        if (context < 0) {
            throw usage("--context must be >= 0 (was " + context + ")");
        }
    }

    @Override
    int run(Session s) {
        String uri = s.device().uri();
        Differential.Report r;
        try {
            note("opening --against %s", against);
            r = Differential.run(uri, against, new Differential.Options(seed, ops, !ignoreConfig));
        } catch (io.ualbridge.UalException e) {
            if (e.operation().equals("open")) {
                throw usage("--against '" + against + "': " + e.getMessage());
            }
            throw e;
        }
        List<Differential.Step> steps = r.steps();
        Differential.Step d = r.firstDivergence();
        List<Differential.Step> before = d == null ? List.of()
                : steps.subList(Math.max(0, steps.size() - 1 - context), steps.size() - 1);
        if (json()) {
            ObjectNode n = Json.object();
            n.put("uri", uri);
            n.put("against", against);
            n.put("seed", seed);
            n.put("ops", ops);
            n.put("opsRun", r.opsRun());
            n.put("compareConfig", !ignoreConfig);
            n.put("identical", r.identical());
            if (d != null) {
                n.set("divergence", step(d));
                ArrayNode ctx = n.putArray("context");
                before.forEach(x -> ctx.add(step(x)));
            } else {
                n.putNull("divergence");
            }
            emit(n);
        } else {
            PrintWriter out = out();
            if (d == null) {
                out.printf("%s and %s agree on all %d operations of seed %d%s.%n", uri, against, r.opsRun(), seed,
                        ignoreConfig ? " (configuration not compared)" : "");
            } else {
                out.printf("%s and %s DIVERGE at operation %d of seed %d: %s%n", uri, against, d.index(), seed,
                        d.op());
                out.printf("  %-10s %s%n", "--uri:", d.resultA());
                out.printf("  %-10s %s%n", "--against:", d.resultB());
                if (!before.isEmpty()) {
                    out.printf("%nThe %s before it (both sides agreed):%n", Fmt.plural(before.size(), "operation"));
                    Table t = new Table("#", "operation", "result").rightAlign(0);
                    before.forEach(x -> t.row(x.index(), x.op(), x.resultA()));
                    t.print(out, "  ");
                }
            }
        }
        return r.identical() ? ExitCodes.OK : ExitCodes.CHECK_FAILED;
    }

    private static ObjectNode step(Differential.Step s) {
        ObjectNode n = Json.object();
        n.put("index", s.index());
        n.put("operation", s.op());
        n.put("uri", s.resultA());
        n.put("against", s.resultB());
        return n;
    }
}
