package io.ualbridge.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ualbridge.ErrorCode;
import io.ualbridge.UalDevice;
import io.ualbridge.UalException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;

/** ualctl shell: one process, one domain, commands on stdin, one JSON line per answer on stdout. */
@Command(name = "shell", mixinStandardHelpOptions = true,
        description = {"Open --uri and keep it open while reading commands from stdin, one per line (blank lines "
                + "and lines starting with # are ignored). On a shared pod (fake:/PATH?local=N) the process is one "
                + "OS domain that keeps its memory and grants across commands.",
            "After opening it prints {\"ready\":true,\"accel\":N,\"accels\":M,\"uri\":\"...\"}. Every command "
                + "then prints exactly one JSON line, flushed at once: {\"cmd\":\"<the line>\",\"ok\":true,...} or "
                + "{\"cmd\":\"<the line>\",\"ok\":false,\"error\":\"EACCES\",\"code\":-13,\"message\":\"...\"} "
                + "(\"error\":\"USAGE\" for a malformed command). No error ends the shell; EOF or quit does "
                + "(exit 0), freeing everything it created.",
            "Commands (numbers are decimal or 0x hex):",
            "  alloc NAME SIZE            device memory of the local accelerator -> \"pfn\",\"pages\"",
            "  free NAME                  free a block",
            "  write NAME OFFSET HEX      write bytes into a block (local access)",
            "  read NAME OFFSET LEN       -> \"hex\" (local access)",
            "  grant NAME INITIATOR r|w|rw [--offset BYTES] [--len BYTES]   (whole pages; default the whole block)",
            "  revoke NAME INITIATOR [--offset BYTES] [--len BYTES]",
            "  fabric-read TARGET PFN OFFSET LEN [--mode physical|virtual]  -> \"hex\": bytes of TARGET's pages "
                + "from PFN, read through fabric addresses as the local accelerator (default physical)",
            "  fabric-write TARGET PFN OFFSET HEX [--mode physical|virtual] (partial 64-byte blocks are read "
                + "first, which needs read access)",
            "  faults                     drain the local accelerator's fault ring -> \"faults\",\"lost\"",
            "  info                       the device info",
            "  pod-status                 what 'ualctl pod status --json' shows for the URI's pod file",
            "  help, quit"})
final class ShellCommand implements Callable<Integer>, OutputFlags {
    @Spec
    CommandSpec spec;

    @Option(names = "--uri", paramLabel = "URI", defaultValue = "fake:",
            description = "Fabric to open (default: ${DEFAULT-VALUE}), e.g. fake:/dev/shm/pod0?local=1.")
    String uri;

    @Option(names = {"-v", "--verbose"}, description = "Print stack traces of internal errors on stderr.")
    boolean verbose;

    /** Where commands come from; tests replace it. */
    InputStream in = System.in;

    @Override
    public boolean json() {
        return true;
    }

    @Override
    public boolean verbose() {
        return verbose;
    }

    private Shell open() {
        UalDevice dev = UalDevice.open(uri);
        try {
            return new Shell(dev, spec.commandLine().getOut(), spec.commandLine().getErr(), verbose);
        } catch (RuntimeException e) {
            dev.close();
            throw e;
        }
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Shell shell;
        try {
            shell = open();
        } catch (UalException e) {
            // The reader waits for a first line: tell it why there will be no shell.
            ObjectNode n = Json.object();
            n.put("ready", false);
            n.put("uri", uri);
            n.put("error", e.error().name());
            n.put("code", e.code());
            n.put("message", e.getMessage());
            out.println(Json.line(n));
            out.flush();
            err.println("ualctl: --uri '" + uri + "': " + e.getMessage());
            err.flush();
            return e.error() == ErrorCode.EINVAL || e.error() == ErrorCode.ENODEV ? ExitCodes.USAGE
                    : ExitCodes.LIBRARY;
        }
        try (shell) {
            shell.ready();
            shell.loop(new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8)));
        }
        return ExitCodes.OK;
    }
}
