package io.ualbridge.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ualbridge.conformance.Capabilities;
import io.ualbridge.conformance.Capability;
import io.ualbridge.conformance.Check;
import io.ualbridge.conformance.CheckResult;
import io.ualbridge.conformance.ConformanceListener;
import io.ualbridge.conformance.ConformanceReport;
import io.ualbridge.conformance.ConformanceRunner;
import io.ualbridge.conformance.ConformanceSuite;
import io.ualbridge.conformance.Outcome;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import javax.xml.stream.XMLOutputFactory;
import javax.xml.stream.XMLStreamException;
import javax.xml.stream.XMLStreamWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/** ualctl conformance: run the backend conformance suite against a URI. */
@Command(name = "conformance", mixinStandardHelpOptions = true,
        description = {"Run the conformance suite every ualbridge backend must pass against --uri: each check opens a "
                + "fresh device and verifies one behaviour of the ABI. Checks needing a capability the backend lacks "
                + "(info() or a probe says so) are SKIPPED with the reason.",
            "Exit 0 if no check failed, 4 if one did."})
final class ConformanceCommand extends BaseCommand {
    @Option(names = "--only", paramLabel = "NAME", arity = "1..*",
            description = "Run only these checks (see --list).")
    List<String> only;

    @Option(names = "--list", description = "List the checks with what they need and exit.")
    boolean list;

    @Option(names = "--junit-xml", paramLabel = "FILE", description = "Also write the results as JUnit XML.")
    Path junitXml;

    @Option(names = "--progress", negatable = true,
            description = "Show (or with --no-progress never show) a progress bar on stderr (default: when stderr is "
                    + "a terminal and the output is human).")
    Boolean progress;

    private List<Check> checks;

    @Override
    void validate() {
        try {
            checks = only == null ? ConformanceSuite.checks() : ConformanceSuite.select(only);
        } catch (IllegalArgumentException e) {
            throw usage("--only: " + e.getMessage());
        }
    }

    @Override
    int run(Session s) throws IOException {
        if (list) {
            return list();
        }
        ConformanceRunner runner = new ConformanceRunner(s.device().uri());
        ConformanceReport report;
        boolean bar = progress != null ? progress && !json() : !json() && System.console() != null
                && System.console().isTerminal();
        try (ProgressBar pb = bar ? new ProgressBarBuilder().setTaskName("conformance").setInitialMax(checks.size())
                .setStyle(ProgressBarStyle.ASCII).setConsumer(new ConsoleProgressBarConsumer(System.err)).build()
                : null) {
            report = runner.run(checks, new ConformanceListener() {
                @Override
                public void checkStarted(Check check, int index, int total) {
                    if (pb != null) {
                        pb.setExtraMessage(check.name());
                    }
                    note("[%d/%d] %s", index + 1, total, check.name());
                }

                @Override
                public void checkFinished(CheckResult result, int index, int total) {
                    if (pb != null) {
                        pb.step();
                    }
                }
            });
        }
        if (junitXml != null) {
            writeJunit(report, junitXml);
        }
        if (json()) {
            emit(json(report));
        } else {
            print(report, s);
        }
        return report.passed() ? ExitCodes.OK : ExitCodes.CHECK_FAILED;
    }

    private int list() {
        if (json()) {
            ArrayNode a = Json.array();
            for (Check c : checks) {
                ObjectNode n = a.addObject();
                n.put("check", c.name());
                n.put("description", c.description());
                ArrayNode needs = n.putArray("needs");
                c.needs().forEach(x -> needs.add(x.name()));
            }
            emit(a);
            return ExitCodes.OK;
        }
        Table t = new Table("check", "needs", "verifies");
        for (Check c : checks) {
            t.row(c.name(), c.needs().isEmpty() ? "-" : String.join(", ", c.needs().stream()
                    .map(x -> x.name().toLowerCase(Locale.ROOT)).toList()), c.description());
        }
        t.print(out(), "");
        return ExitCodes.OK;
    }

    private void print(ConformanceReport r, Session s) {
        PrintWriter out = out();
        out.printf("Conformance of %s (backend %s, accelerator %d of %d)%n", r.uri(), r.backend(), s.local(),
                s.count());
        Capabilities caps = r.capabilities();
        out.printf("Capabilities: %s%n", caps.present().isEmpty() ? "none" : String.join(", ",
                caps.present().stream().map(Capability::description).toList()));
        caps.absent().forEach((c, why) -> out.printf("Lacks %s: %s%n", c.description(), why));
        out.println();
        Table t = new Table("check", "result", "time", "message").rightAlign(2);
        for (CheckResult c : r.results()) {
            t.row(c.check(), c.outcome(), c.outcome() == Outcome.SKIP && c.time().isZero() ? "-" : ms(c.time()),
                    c.message().isEmpty() ? "" : c.message());
        }
        t.print(out, "");
        out.println();
        out.printf("%d checks: %d passed, %d failed, %d skipped (%s)%n", r.results().size(), r.count(Outcome.PASS),
                r.count(Outcome.FAIL), r.count(Outcome.SKIP), ms(r.totalTime()));
    }

    static String ms(Duration d) {
        return String.format(Locale.ROOT, "%.1f ms", d.toNanos() / 1e6);
    }

    private static ObjectNode json(ConformanceReport r) {
        ObjectNode n = Json.object();
        n.put("uri", r.uri());
        n.put("backend", r.backend());
        ObjectNode caps = n.putObject("capabilities");
        ArrayNode present = caps.putArray("present");
        r.capabilities().present().forEach(c -> present.add(c.name()));
        ObjectNode absent = caps.putObject("absent");
        r.capabilities().absent().forEach((c, why) -> absent.put(c.name(), why));
        ArrayNode results = n.putArray("results");
        for (CheckResult c : r.results()) {
            ObjectNode x = results.addObject();
            x.put("check", c.check());
            x.put("outcome", c.outcome().name());
            x.put("timeMs", c.time().toNanos() / 1e6);
            x.put("message", c.message());
        }
        ObjectNode counts = n.putObject("counts");
        for (Outcome o : Outcome.values()) {
            counts.put(o.name().toLowerCase(Locale.ROOT), r.count(o));
        }
        n.put("passed", r.passed());
        return n;
    }

    /** JUnit XML as CI servers read it: one testsuite, one testcase per check. */
    static void writeJunit(ConformanceReport r, Path file) throws IOException {
        try (OutputStream os = Files.newOutputStream(file)) {
            XMLStreamWriter w = XMLOutputFactory.newFactory().createXMLStreamWriter(os, "UTF-8");
            w.writeStartDocument("UTF-8", "1.0");
            w.writeCharacters("\n");
            w.writeStartElement("testsuite");
            w.writeAttribute("name", "ualbridge conformance " + r.uri());
            w.writeAttribute("tests", Integer.toString(r.results().size()));
            w.writeAttribute("failures", Long.toString(r.count(Outcome.FAIL)));
            w.writeAttribute("errors", "0");
            w.writeAttribute("skipped", Long.toString(r.count(Outcome.SKIP)));
            w.writeAttribute("time", seconds(r.totalTime()));
            w.writeCharacters("\n");
            for (CheckResult c : r.results()) {
                w.writeCharacters("  ");
                w.writeStartElement("testcase");
                w.writeAttribute("classname", "conformance." + r.backend());
                w.writeAttribute("name", c.check());
                w.writeAttribute("time", seconds(c.time()));
                if (c.outcome() == Outcome.FAIL) {
                    w.writeStartElement("failure");
                    w.writeAttribute("message", c.message());
                    w.writeCharacters(c.message());
                    w.writeEndElement();
                } else if (c.outcome() == Outcome.SKIP) {
                    w.writeEmptyElement("skipped");
                    w.writeAttribute("message", c.message());
                }
                w.writeEndElement();
                w.writeCharacters("\n");
            }
            w.writeEndElement();
            w.writeCharacters("\n");
            w.writeEndDocument();
            w.close();
        } catch (XMLStreamException e) {
            throw new IOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    private static String seconds(Duration d) {
        return String.format(Locale.ROOT, "%.6f", d.toNanos() / 1e9);
    }
}
