package io.ualbridge.cli;

import io.ualbridge.Ual;
import io.ualbridge.UalException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.IParameterExceptionHandler;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UnmatchedArgumentException;

import java.io.PrintWriter;

/** ualctl: the command-line tool of ualbridge. */
@Command(name = "ualctl",
        mixinStandardHelpOptions = true,
        versionProvider = Ualctl.Version.class,
        description = "Map memory across a UALink-like accelerator fabric: physical mode (routed fabric addresses), "
                + "virtual mode (IOVA ranges, page tables, TLB), grants, faults.",
        subcommands = {InfoCommand.class, MapCommand.class, TranslateCommand.class, DumpCommand.class,
            GrantCommand.class, RevokeCommand.class, FaultsCommand.class, CopyCommand.class, DemoCommand.class,
            ConformanceCommand.class, DiffCommand.class, PodCommand.class, ShellCommand.class,
            CommandLine.HelpCommand.class},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            "0:success (every check passed)",
            "1:the library refused an operation (\"ualctl: <message>\" on stderr)",
            "2:bad arguments",
            "3:the fabric refused a request that should have gone through (a fault is shown)",
            "4:a check failed (copied bytes differ, a demo step failed, a conformance check failed, diff diverged)",
            "70:internal error"},
        footer = {"", "Run 'ualctl demo' for an end-to-end tour of the fake fabric."})
public final class Ualctl implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw missingSubcommand(spec);
    }

    /** The usage error of a command group run without a subcommand: names the ones it has. */
    static ParameterException missingSubcommand(CommandSpec spec) {
        return new ParameterException(spec.commandLine(), "missing subcommand (one of: "
                + String.join(", ", spec.subcommands().keySet()) + ")");
    }

    /** Builds the command line with ualctl's error handling. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Ualctl());
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setParameterExceptionHandler(new UsageErrors());
        cl.setExecutionExceptionHandler(new Errors());
        return cl;
    }

    /** Runs ualctl with the given arguments and returns the exit code. */
    public static int run(String... args) {
        return commandLine().execute(args);
    }

    public static void main(String[] args) {
        for (String a : args) {
            if (a.equals("-v") || a.equals("--verbose")) {
                System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "debug");
            }
        }
        System.exit(run(args));
    }

    /** Usage errors: one line naming the problem, a hint, exit 2. */
    static final class UsageErrors implements IParameterExceptionHandler {
        @Override
        public int handleParseException(ParameterException ex, String[] args) {
            CommandLine cl = ex.getCommandLine();
            PrintWriter err = cl.getErr();
            err.println("ualctl: " + ex.getMessage());
            UnmatchedArgumentException.printSuggestions(ex, err);
            if (verbose(cl) && ex.getCause() != null) {
                ex.getCause().printStackTrace(err);
            }
            err.println("Try '" + cl.getCommandSpec().qualifiedName() + " --help' for more information.");
            err.flush();
            return ExitCodes.USAGE;
        }
    }

    /** Errors while running: "ualctl: message", no stack trace unless --verbose. */
    static final class Errors implements IExecutionExceptionHandler {
        @Override
        public int handleExecutionException(Exception ex, CommandLine cl, ParseResult parseResult) {
            PrintWriter err = cl.getErr();
            boolean verbose = verbose(cl);
            int code;
            if (ex instanceof UalException ue) {
                err.println("ualctl: " + ue.getMessage());
                if (cl.getCommand() instanceof OutputFlags f && f.json()) {
                    cl.getOut().println(Json.write(Json.error(ue)));
                    cl.getOut().flush();
                }
                code = ExitCodes.LIBRARY;
            } else if (ex instanceof IllegalArgumentException) {
                err.println("ualctl: " + ex.getMessage());
                code = ExitCodes.USAGE;
            } else {
                err.println("ualctl: internal error: " + ex);
                code = ExitCodes.INTERNAL;
            }
            if (verbose) {
                ex.printStackTrace(err);
            } else if (code == ExitCodes.INTERNAL) {
                err.println("ualctl: run with --verbose for the stack trace");
            }
            err.flush();
            return code;
        }
    }

    private static boolean verbose(CommandLine cl) {
        Object cmd = cl.getCommand();
        return cmd instanceof OutputFlags f && f.verbose();
    }

    /** "ualctl 0.1.0 (libual ABI 1.0)". */
    static final class Version implements IVersionProvider {
        @Override
        public String[] getVersion() {
            String abi;
            try {
                int v = Ual.abiVersion();
                abi = (v >>> 16) + "." + (v & 0xffff);
            } catch (Throwable t) {
                abi = "unavailable: " + t.getMessage();
            }
            String version = Ualctl.class.getPackage().getImplementationVersion();
            return new String[] {"ualctl " + (version == null ? "0.1.0-SNAPSHOT" : version) + " (libual ABI " + abi + ")"};
        }
    }
}
