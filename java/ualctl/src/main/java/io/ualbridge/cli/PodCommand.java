package io.ualbridge.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ualbridge.ErrorCode;
import io.ualbridge.Pod;
import io.ualbridge.PodAccel;
import io.ualbridge.PodDomain;
import io.ualbridge.PodGrant;
import io.ualbridge.PodStatus;
import io.ualbridge.UalException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** ualctl pod: shared pods of the fake backend (a fabric in a file that several processes join). */
@Command(name = "pod", mixinStandardHelpOptions = true,
        description = {"Shared pods: a fake fabric living in a file (on /dev/shm or another tmpfs) that several "
                + "processes, or containers sharing the directory, join as OS domains with "
                + "--uri fake:/PATH?local=N. Each process owns the accelerators it opens; another domain reaches "
                + "their memory only through the grants they give it.",
            "The file outlives its processes: delete it to destroy the pod."},
        subcommands = {PodCommand.Create.class, PodCommand.Status.class})
final class PodCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw Ualctl.missingSubcommand(spec);
    }

    /** Options and plumbing of the pod subcommands (they open no device, so they are not BaseCommands). */
    abstract static class Sub implements Callable<Integer>, OutputFlags {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "PATH",
                description = "The pod file, for example /dev/shm/pod0 (a relative path is taken from the current "
                        + "directory).")
        String path;

        @Option(names = "--json", description = "Print one JSON document on stdout instead of the human report.")
        boolean json;

        @Option(names = {"-v", "--verbose"}, description = "Print stack traces of errors.")
        boolean verbose;

        @Override
        public boolean json() {
            return json;
        }

        @Override
        public boolean verbose() {
            return verbose;
        }

        PrintWriter out() {
            return spec.commandLine().getOut();
        }

        /** PATH made absolute (libual takes absolute paths only). */
        String absolutePath() {
            try {
                return Path.of(path).toAbsolutePath().normalize().toString();
            } catch (InvalidPathException e) {
                throw new ParameterException(spec.commandLine(), "PATH '" + path + "': " + e.getMessage());
            }
        }

        @Override
        public final Integer call() {
            try {
                return run();
            } finally {
                out().flush();
            }
        }

        abstract int run();
    }

    /** ualctl pod create. */
    @Command(name = "create", mixinStandardHelpOptions = true,
            description = "Create a pod file without joining it; processes then join it with "
                    + "--uri fake:/PATH?local=N (giving no fabric options, or the same ones).")
    static final class Create extends Sub {
        @Option(names = "--accels", paramLabel = "N", description = "Accelerators in the fabric (default: 4).")
        Integer accels;

        @Option(names = "--mem", paramLabel = "SIZE", converter = Converters.Size.class,
                description = "Device memory per accelerator, a multiple of 4 KiB (default: 64M).")
        Long mem;

        @Option(names = "--mode", paramLabel = "MODE",
                description = "Addressing modes: physical, virtual or both (default: both).")
        Mode mode;

        @Option(names = "--option", paramLabel = "KEY=VALUE",
                description = "Another fabric option of the fake: URI (pt_pool, dma_bits, tlb, faults); repeatable.")
        List<String> options = new ArrayList<>();

        @Option(names = "--replace", description = "Replace an existing file (processes attached to the old pod "
                + "keep it; later opens get the new one).")
        boolean replace;

        @Override
        int run() {
            String abs = absolutePath();
            List<String> opts = new ArrayList<>();
            if (accels != null) {
                opts.add("accels=" + accels);
            }
            if (mem != null) {
                opts.add("mem=" + mem);
            }
            if (mode != null) {
                opts.add("mode=" + mode.name());
            }
            for (String o : options) {
                if (o.indexOf('=') <= 0 || o.contains("&") || o.contains("?")) {
                    throw new ParameterException(spec.commandLine(), "--option '" + o + "': expected KEY=VALUE");
                }
                opts.add(o);
            }
            String uri = "fake:" + abs + (opts.isEmpty() ? "" : "?" + String.join("&", opts));
            try {
                Pod.create(uri, replace);
            } catch (UalException e) {
                // A URI libual rejects came from our arguments: a usage error naming them.
                if (e.error() == ErrorCode.EINVAL) {
                    throw new ParameterException(spec.commandLine(), "cannot create a pod from '" + uri + "': "
                            + e.getMessage(), e, null, uri);
                }
                throw e;
            }
            PodStatus st = Pod.status(abs);
            if (json) {
                ObjectNode n = Json.object();
                n.put("created", true);
                n.put("uri", uri);
                n.put("join", "fake:" + abs + "?local=N");
                n.set("pod", Json.podStatus(st));
                out().println(Json.write(n));
                return ExitCodes.OK;
            }
            PrintWriter out = out();
            out.printf("Created pod %s: %s of %s memory, %s mode%n", abs,
                    Fmt.plural(st.acceleratorCount(), "accelerator"), Fmt.size(st.memorySize()),
                    modes(st));
            out.printf("Join it with --uri 'fake:%s?local=N' (N in 0..%d); delete the file to destroy it.%n", abs,
                    st.acceleratorCount() - 1);
            return ExitCodes.OK;
        }
    }

    /** ualctl pod status. */
    @Command(name = "status", mixinStandardHelpOptions = true,
            description = "Show a pod: the live domains attached (slot, pid, host, command, handles, accelerators, "
                    + "since when), each accelerator (state, owner, memory used, grants), every grant (target -> "
                    + "initiator, PFNs, protection), and whether a dead domain poisoned it. Dead domains are "
                    + "cleaned up first, so only live ones are listed.")
    static final class Status extends Sub {
        @Option(names = "--max-rows", paramLabel = "N", defaultValue = "64",
                description = "Grant rows in the human output (default: ${DEFAULT-VALUE}; --json lists all).")
        int maxRows;

        @Override
        int run() {
            String abs = absolutePath();
            PodStatus st = Pod.status(abs);
            if (json) {
                out().println(Json.write(Json.podStatus(st)));
                return ExitCodes.OK;
            }
            print(out(), st, maxRows);
            return ExitCodes.OK;
        }
    }

    static String modes(PodStatus st) {
        List<String> m = Fmt.modeNames(st.modes());
        return m.isEmpty() ? "no" : String.join(" and ", m);
    }

    static void print(PrintWriter out, PodStatus st, int maxRows) {
        Table t = new Table("FIELD", "VALUE").noHeader();
        t.row("Pod", st.path());
        t.row("Fabric", Fmt.plural(st.acceleratorCount(), "accelerator") + " of " + Fmt.size(st.memorySize())
                + ", " + modes(st) + " mode");
        t.row("Heap", Fmt.size(st.heapUsed()) + " of " + Fmt.size(st.heapSize()) + " used");
        t.row("Created", time(st.created()));
        t.row("Poisoned", st.poisoned() ? "YES: " + st.poisonReason()
                + " (every call fails with EOWNERDEAD; re-create the pod)" : "no");
        t.row("Dead domains reaped", st.reaped());
        t.print(out, "");

        out.printf("%nDomains: %d live%n", st.domains().size());
        if (!st.domains().isEmpty()) {
            Table d = new Table("SLOT", "PID", "HOST", "COMMAND", "HANDLES", "ACCELS", "SINCE").rightAlign(0, 1, 4, 5);
            for (PodDomain x : st.domains()) {
                d.row(x.slot(), x.pid(), x.host(), x.comm(), x.handles(), x.accelerators(), time(x.attached()));
            }
            d.print(out, "  ");
        }

        out.printf("%nAccelerators:%n");
        Table a = new Table("ID", "STATE", "OWNER", "MEM USED", "GRANTS").rightAlign(0, 3, 4);
        for (PodAccel x : st.accelerators()) {
            String owner = switch (x.state()) {
                case OWNED -> "slot " + x.ownerSlot() + " (pid " + x.ownerPid() + ")";
                case DOWN -> "died (pid " + x.ownerPid() + ")";
                default -> "-";
            };
            a.row(x.id(), x.state().name(), owner, Fmt.size(x.memoryUsed()), x.grants());
        }
        a.print(out, "  ");

        out.printf("%nGrants: %d%n", st.grants().size());
        if (!st.grants().isEmpty()) {
            Table g = new Table("TARGET", "", "INITIATOR", "PFN", "PAGES", "PROT").rightAlign(0, 2, 4);
            for (PodGrant x : st.grants()) {
                if (g.size() >= maxRows) {
                    g.omit();
                    continue;
                }
                g.row(x.target(), "->", x.initiator(), Fmt.hex(x.pfn()), x.pages(), Fmt.prot(x.prot()));
            }
            g.print(out, "  ");
        }
    }

    private static String time(Instant t) {
        return t.truncatedTo(ChronoUnit.SECONDS).toString();
    }
}
