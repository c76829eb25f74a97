package io.ualbridge.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.PrintWriter;

/**
 * The demo's report: numbered steps with lines and PASS/FAIL checks. Human output is printed as it goes; the
 * same content is collected as a JSON document.
 */
final class Report {
    private final PrintWriter out;
    private final boolean human;
    private final ObjectNode root = Json.object();
    private final ArrayNode steps = root.putArray("steps");
    private ObjectNode step;
    private int number;
    private int passed;
    private int failed;

    Report(PrintWriter out, boolean human) {
        this.out = out;
        this.human = human;
    }

    ObjectNode root() {
        return root;
    }

    void title(String text) {
        if (human) {
            out.println(text);
            out.println("=".repeat(text.length()));
        }
    }

    void step(String title) {
        number++;
        step = steps.addObject();
        step.put("step", number);
        step.put("title", title);
        step.put("passed", true);
        step.putArray("checks");
        step.putObject("data");
        step.putArray("lines");
        if (human) {
            out.printf("%n%d. %s%n", number, title);
            out.flush();
        }
    }

    /** A line of explanation (kept in the JSON "lines" of the step too). */
    void line(String format, Object... args) {
        String s = String.format(format, args);
        ((ArrayNode) step.get("lines")).add(s);
        if (human) {
            out.println("   " + s);
        }
    }

    void table(Table t) {
        if (human) {
            t.print(out, "     ");
        }
    }

    /** The step's structured data. */
    ObjectNode data() {
        return (ObjectNode) step.get("data");
    }

    boolean check(String name, boolean ok, String detail) {
        ObjectNode c = ((ArrayNode) step.get("checks")).addObject();
        c.put("check", name);
        c.put("passed", ok);
        c.put("detail", detail);
        if (ok) {
            passed++;
        } else {
            failed++;
            step.put("passed", false);
        }
        if (human) {
            out.printf("   [%s] %s%s%n", ok ? "PASS" : "FAIL", name, detail == null || detail.isEmpty() ? ""
                    : " (" + detail + ")");
            out.flush();
        }
        return ok;
    }

    int passed() {
        return passed;
    }

    int failed() {
        return failed;
    }

    boolean human() {
        return human;
    }

    PrintWriter out() {
        return out;
    }
}
