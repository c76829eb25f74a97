package io.ualbridge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

/** Base of the subcommands: common options, output streams, session handling. */
abstract class BaseCommand implements Callable<Integer>, OutputFlags {
    @Spec
    CommandSpec spec;

    @Mixin
    CommonOptions common;

    PrintWriter out() {
        return spec.commandLine().getOut();
    }

    PrintWriter err() {
        return spec.commandLine().getErr();
    }

    @Override
    public boolean json() {
        return common != null && common.json;
    }

    @Override
    public boolean verbose() {
        return common != null && common.verbose;
    }

    /** Prints a progress note on stderr with --verbose. */
    void note(String format, Object... args) {
        if (common.verbose) {
            err().println("ualctl: " + String.format(format, args));
            err().flush();
        }
    }

    void emit(JsonNode node) {
        out().println(Json.write(node));
    }

    @Override
    public final Integer call() throws Exception {
        validate();
        note("opening %s", common.uri);
        try (Session s = Session.open(spec.commandLine(), common.uri)) {
            note("accelerator %d of %d, backend %s", s.local(), s.count(), s.info().backend());
            return run(s);
        } finally {
            out().flush();
            err().flush();
        }
    }

    /** Checks options that need no device; throw {@link Session#usage}-style ParameterExceptions. */
    void validate() {
    }

    /** Runs the command; returns the exit code. */
    abstract int run(Session s) throws Exception;

    picocli.CommandLine.ParameterException usage(String message) {
        return new picocli.CommandLine.ParameterException(spec.commandLine(), message);
    }
}
