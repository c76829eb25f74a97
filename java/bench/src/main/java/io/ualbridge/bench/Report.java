package io.ualbridge.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Joins the C baseline (native/bench JSON) and the JMH results (FFM and JNA) into one table, checks the
 * performance targets against it, and writes {@code bench.md}, {@code bench.json} and {@code bench.svg} (pages per
 * second against batch size).
 *
 * <p>Usage: {@code Report c1.json[,c2.json...] jmh1.json[,jmh2.json...] outDir "machine description"}. scripts/bench
 * runs the C baseline of each operation right before and right after the JMH forks of that operation, so an
 * operation has several C samples: its C figure is their mean, and the table shows the 1-minute load average the
 * C samples ran under. Exit status 0 if every target is met, 3 otherwise (the table is written either way).
 */
public final class Report {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final String ALLOC_NORM = "gc.alloc.rate.norm";
    private static final int[] BATCHES = {1, 16, 512, 4096};

    /** One operation's figures. NaN where a side did not run it. */
    static final class Row {
        final String op;
        long pages;
        double c = Double.NaN;
        /** C samples (ns) and the load averages they ran under. */
        final List<Double> cSamples = new ArrayList<>();
        final List<Double> loads = new ArrayList<>();
        double ffm = Double.NaN;
        double jna = Double.NaN;
        double ffmAlloc = Double.NaN;
        double jnaAlloc = Double.NaN;

        Row(String op) {
            this.op = op;
        }
    }

    /** A target and whether it holds. */
    record Check(String target, String measured, boolean met) {
    }

    private Report() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 4) {
            System.err.println("usage: Report c.json jmh.json outDir machine");
            System.exit(2);
        }
        Path out = Path.of(args[2]);
        String machine = args[3];
        Files.createDirectories(out);

        Map<String, Row> rows = new LinkedHashMap<>();
        ObjectNode c = JSON.createObjectNode();
        for (String file : args[0].split(",")) {
            JsonNode doc = JSON.readTree(Path.of(file).toFile());
            for (JsonNode r : doc.get("results")) {
                Row row = rows.computeIfAbsent(r.get("op").asText(), Row::new);
                row.pages = r.get("pages").asLong();
                row.cSamples.add(r.get("ns_per_op").asDouble());
                if (r.has("load1")) {
                    row.loads.add(r.get("load1").asDouble());
                }
            }
            for (String k : List.of("pt_dense_4k", "pt_2m_runs")) {
                if (doc.has(k)) {
                    c.set(k, doc.get(k));
                }
            }
        }
        for (Row row : rows.values()) {
            row.c = row.cSamples.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
        }
        List<JsonNode> jmh = new ArrayList<>();
        for (String file : args[1].split(",")) {
            JSON.readTree(Path.of(file).toFile()).forEach(jmh::add);
        }
        for (JsonNode r : jmh) {
            String bench = r.get("benchmark").asText();
            String cls = bench.substring(0, bench.lastIndexOf('.'));
            String op = opName(bench.substring(bench.lastIndexOf('.') + 1), r.get("params"));
            Row row = rows.computeIfAbsent(op, Row::new);
            double score = median(r.get("primaryMetric"));
            JsonNode alloc = r.path("secondaryMetrics").path(ALLOC_NORM).path("score");
            double bytes = alloc.isMissingNode() ? Double.NaN : alloc.asDouble();
            if (cls.endsWith("FfmBench")) {
                row.ffm = score;
                row.ffmAlloc = bytes;
            } else if (cls.endsWith("JnaBench")) {
                row.jna = score;
                row.jnaAlloc = bytes;
            }
        }
        // JMH-only variants (translate_hit_record) go right after the row they vary.
        Map<String, Row> ordered = new LinkedHashMap<>();
        for (Row r : rows.values()) {
            if (r.op.endsWith("_record") && rows.containsKey(r.op.substring(0, r.op.length() - 7))) {
                continue;
            }
            ordered.put(r.op, r);
            Row v = rows.get(r.op + "_record");
            if (v != null) {
                if (v.loads.isEmpty()) {
                    v.loads.addAll(r.loads); // measured in the same group
                }
                ordered.put(v.op, v);
            }
        }
        rows = ordered;
        List<Check> checks = checks(rows, c);
        String md = markdown(rows, c, checks, machine);
        Files.writeString(out.resolve("bench.md"), md);
        Files.writeString(out.resolve("bench.json"), JSON.writeValueAsString(json(rows, c, checks, machine)));
        Files.writeString(out.resolve("bench.svg"), svg(rows));
        System.out.print(md);
        System.exit(checks.stream().allMatch(Check::met) ? 0 : 3);
    }

    /**
     * The median of a JMH metric's iterations (its raw data), as the C side takes the median of its timed runs: on
     * a shared machine one iteration that lost the CPU would otherwise move the mean. Falls back to JMH's score.
     */
    static double median(JsonNode metric) {
        List<Double> v = new ArrayList<>();
        for (JsonNode fork : metric.path("rawData")) {
            fork.forEach(x -> v.add(x.asDouble()));
        }
        if (v.isEmpty()) {
            return metric.get("score").asDouble();
        }
        v.sort(null);
        int n = v.size();
        return n % 2 == 1 ? v.get(n / 2) : (v.get(n / 2 - 1) + v.get(n / 2)) / 2;
    }

    static String opName(String method, JsonNode params) {
        String op = method;
        if (params != null && params.has("batch")) {
            op += "_" + params.get("batch").asText();
        }
        if (params != null && params.has("live")) {
            op += params.get("live").asText().equals("1000") ? "_1k" : "_1m";
        }
        return op;
    }

    static double mpps(double ns, long pages) {
        return pages == 0 ? Double.NaN : pages * 1e3 / ns;
    }

    static List<Check> checks(Map<String, Row> rows, JsonNode c) {
        List<Check> l = new ArrayList<>();
        Row t = rows.get("trivial_call");
        if (t != null) {
            l.add(new Check("trivial call: FFM <= 3x C", f("%.2fx (%.2f vs %.2f ns)", t.ffm / t.c, t.ffm, t.c),
                    t.ffm <= 3 * t.c));
            l.add(new Check("trivial call: JNA >= 20x FFM", f("%.1fx (%.1f vs %.2f ns)", t.jna / t.ffm, t.jna, t.ffm),
                    t.jna >= 20 * t.ffm));
        }
        Row h = rows.get("translate_hit");
        if (h != null) {
            l.add(new Check("translate (TLB hit): FFM <= 1.5x C",
                    f("%.2fx (%.1f vs %.1f ns)", h.ffm / h.c, h.ffm, h.c), h.ffm <= 1.5 * h.c));
        }
        for (String op : List.of("link_unlink_512", "link_unlink_4096")) {
            Row r = rows.get(op);
            if (r == null) {
                continue;
            }
            double ffm = mpps(r.ffm, r.pages);
            double cr = mpps(r.c, r.pages);
            l.add(new Check(op + ": FFM rate >= 0.8x C", f("%.2fx (%.0f vs %.0f Mpages/s)", ffm / cr, ffm, cr),
                    ffm >= 0.8 * cr));
            l.add(new Check(op + ": FFM >= 50 Mpages/s (link + unlink per page)", f("%.0f Mpages/s", ffm),
                    ffm >= 50));
        }
        for (Row r : rows.values()) {
            // translate_hit_record is the convenience form, documented to return a new record per call.
            if (r.op.startsWith("link_unlink") || r.op.startsWith("map_pfns")
                    || r.op.startsWith("translate") && !r.op.endsWith("_record")) {
                // A real allocation costs at least one 16-byte object per call; fractions of a byte are the
                // JVM's and JMH's own background allocation divided by the number of calls.
                l.add(new Check(r.op + ": 0 B Java heap per call (FFM; < 16 B/op = no object per call)",
                        f("%.3f B/op", r.ffmAlloc), r.ffmAlloc < 16));
            }
        }
        Row k = rows.get("iova_alloc_free_1k");
        Row m = rows.get("iova_alloc_free_1m");
        if (k != null && m != null) {
            l.add(new Check("alloc+free, 1M live ranges <= 2x 1K (C)", f("%.2fx (%.0f vs %.0f ns)", m.c / k.c, m.c, k.c),
                    m.c <= 2 * k.c));
            l.add(new Check("alloc+free, 1M live ranges <= 2x 1K (FFM)",
                    f("%.2fx (%.0f vs %.0f ns)", m.ffm / k.ffm, m.ffm, k.ffm), m.ffm <= 2 * k.ffm));
        }
        JsonNode d = c.path("pt_dense_4k");
        if (!d.isMissingNode()) {
            double b = d.get("bytes_per_page").asDouble();
            l.add(new Check("page tables, dense 4 KiB: <= 1% above 8 B/page",
                    f("%.4f B/page (+%.2f%%, %d table pages for %d GiB)", b, (b / 8 - 1) * 100,
                            d.get("table_pages").asLong(), d.get("mapped_bytes").asLong() >> 30),
                    b <= 8 * 1.01));
        }
        JsonNode r2 = c.path("pt_2m_runs");
        if (!r2.isMissingNode()) {
            double p = r2.get("table_pages_per_gib").asDouble();
            long total = r2.get("table_pages").asLong();
            long leaves = r2.get("leaf_level_tables").asLong();
            long gib = r2.get("mapped_bytes").asLong() >> 30;
            double marginal = r2.path("marginal_table_pages_per_gib").asDouble(Double.NaN);
            // Both figures, neither rounded: the total carries the upper-level tables; the marginal one is what
            // each further GiB costs (a leaf-level table, plus an upper-level table per 512 GiB crossed).
            l.add(new Check("page tables, 2 MiB runs, total: <= 1 table page per GiB",
                    f("%.4f pages/GiB (%d table pages for %d GiB: %d leaf-level + %d upper-level)", p, total, gib,
                            leaves, total - leaves),
                    p <= 1.0));
            if (!Double.isNaN(marginal)) {
                l.add(new Check("page tables, 2 MiB runs, marginal: <= 1 table page per further GiB",
                        f("%.4f pages/GiB (%d pages for the first GiB, %d for the %d further GiB)", marginal,
                                r2.get("table_pages_first_gib").asLong(),
                                total - r2.get("table_pages_first_gib").asLong(), gib - 1),
                        marginal <= 1.0));
            }
        }
        return l;
    }

    static String f(String fmt, Object... a) {
        return String.format(Locale.ROOT, fmt, a);
    }

    static String num(double v, String fmt) {
        return Double.isNaN(v) ? "–" : f(fmt, v);
    }

    static String markdown(Map<String, Row> rows, JsonNode c, List<Check> checks, String machine) {
        StringBuilder sb = new StringBuilder();
        sb.append("Machine: ").append(machine).append("\n\n");
        sb.append("| operation | pages | C ns/op | FFM ns/op | JNA ns/op | FFM/C | JNA/FFM | C Mpages/s | FFM Mpages/s "
                + "| JNA Mpages/s | FFM B/op | JNA B/op | load |\n");
        sb.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
        for (Row r : rows.values()) {
            String fmt = r.c < 10 || Double.isNaN(r.c) && r.ffm < 10 ? "%.2f" : "%.1f";
            sb.append(f("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.op,
                    r.pages == 0 ? "" : Long.toString(r.pages), num(r.c, fmt), num(r.ffm, fmt), num(r.jna, fmt),
                    num(r.ffm / r.c, "%.2f"), num(r.jna / r.ffm, "%.1f"), num(mpps(r.c, r.pages), "%.0f"),
                    num(mpps(r.ffm, r.pages), "%.0f"), num(mpps(r.jna, r.pages), "%.0f"), num(r.ffmAlloc, "%.1f"),
                    num(r.jnaAlloc, "%.1f"), loads(r)));
        }
        sb.append("\nPages: 4 KiB pages per operation; link_unlink_N links N scattered PFNs (every page a 4 KiB leaf) "
                + "and unlinks them, so Mpages/s counts a page linked *and* unlinked. B/op: Java heap allocated per "
                + "operation (JMH gc profiler; fractions of a byte are background allocation, not the call). "
                + "translate_hit and translate_miss use the allocation-free Translator; translate_hit_record is the "
                + "convenience form UalDevice.translate (a FabricAddress in, a new Translation out). Method: each "
                + "operation's C baseline runs right before and right after its JMH forks (FFM, then JNA), and C is "
                + "the mean of those runs, so both sides see the same load; load = the 1-minute load average during "
                + "the C runs (2 cores: above 1 the benchmark shares a core). ns/op are medians, of the timed "
                + "runs in C and of the JMH iterations in Java. The C baseline runs with an idle second "
                + "thread, as every JVM has: glibc takes an uncontended mutex without an atomic operation in a "
                + "single-threaded process, which would flatter C by about 10 ns per locking call. trivial_call "
                + "loops 100 calls per JMH invocation, summing the results like the C loop.\n\n");
        sb.append("| target | measured | |\n|---|---|---|\n");
        for (Check k : checks) {
            sb.append(f("| %s | %s | %s |\n", k.target(), k.measured(), k.met() ? "met" : "**MISSED**"));
        }
        return sb.toString();
    }

    /** The load averages a row's C samples ran under, "2.1–3.4" or "2.1". */
    static String loads(Row r) {
        if (r.loads.isEmpty()) {
            return "–";
        }
        double lo = r.loads.stream().mapToDouble(Double::doubleValue).min().orElseThrow();
        double hi = r.loads.stream().mapToDouble(Double::doubleValue).max().orElseThrow();
        return lo == hi ? f("%.1f", lo) : f("%.1f–%.1f", lo, hi);
    }

    static ObjectNode json(Map<String, Row> rows, JsonNode c, List<Check> checks, String machine) {
        ObjectNode root = JSON.createObjectNode();
        root.put("machine", machine);
        ArrayNode ops = root.putArray("operations");
        for (Row r : rows.values()) {
            ObjectNode o = ops.addObject();
            o.put("op", r.op);
            o.put("pages", r.pages);
            put(o, "c_ns", r.c);
            ArrayNode cs = o.putArray("c_samples_ns");
            r.cSamples.forEach(cs::add);
            ArrayNode ls = o.putArray("load1");
            r.loads.forEach(ls::add);
            put(o, "ffm_ns", r.ffm);
            put(o, "jna_ns", r.jna);
            put(o, "ffm_bytes_per_op", r.ffmAlloc);
            put(o, "jna_bytes_per_op", r.jnaAlloc);
        }
        root.set("pt_dense_4k", c.path("pt_dense_4k"));
        root.set("pt_2m_runs", c.path("pt_2m_runs"));
        ArrayNode t = root.putArray("targets");
        for (Check k : checks) {
            t.addObject().put("target", k.target()).put("measured", k.measured()).put("met", k.met());
        }
        return root;
    }

    static void put(ObjectNode o, String k, double v) {
        if (Double.isNaN(v)) {
            o.putNull(k);
        } else {
            o.put(k, v);
        }
    }

    /** Log-log plot of Mpages/s (link + unlink) against batch size for C, FFM and JNA. */
    static String svg(Map<String, Row> rows) {
        int w = 640, h = 400, left = 70, right = 120, top = 40, bottom = 50;
        Map<String, double[]> series = new TreeMap<>();
        String[] names = {"C", "FFM", "JNA"};
        String[] colors = {"#1f77b4", "#d62728", "#2ca02c"};
        double lo = Double.MAX_VALUE, hi = 0;
        for (int s = 0; s < 3; s++) {
            double[] v = new double[BATCHES.length];
            for (int i = 0; i < BATCHES.length; i++) {
                Row r = rows.get("link_unlink_" + BATCHES[i]);
                double ns = r == null ? Double.NaN : s == 0 ? r.c : s == 1 ? r.ffm : r.jna;
                v[i] = mpps(ns, BATCHES[i]);
                if (!Double.isNaN(v[i])) {
                    lo = Math.min(lo, v[i]);
                    hi = Math.max(hi, v[i]);
                }
            }
            series.put(names[s], v);
        }
        if (hi == 0) {
            lo = 1;
            hi = 10;
        }
        double ylo = Math.floor(Math.log10(lo)), yhi = Math.ceil(Math.log10(hi));
        if (yhi == ylo) {
            yhi++;
        }
        int pw = w - left - right, ph = h - top - bottom;
        StringBuilder sb = new StringBuilder();
        sb.append(f("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
                + "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", w, h));
        sb.append(f("<text x=\"%d\" y=\"22\" font-size=\"14\">ual_iova_link + ual_iova_unlink: pages per second "
                + "against batch size</text>\n", left));
        for (double d = ylo; d <= yhi; d++) {
            double y = top + ph - (d - ylo) / (yhi - ylo) * ph;
            sb.append(f("<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", left, y, left + pw, y));
            sb.append(f("<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", left - 6, y + 4,
                    Math.pow(10, d) >= 1 ? f("%.0f", Math.pow(10, d)) : f("%.2g", Math.pow(10, d))));
        }
        for (int i = 0; i < BATCHES.length; i++) {
            double x = left + (double) i / (BATCHES.length - 1) * pw;
            sb.append(f("<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>\n", x, top + ph + 18, BATCHES[i]));
        }
        sb.append(f("<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">PFNs per call (log scale)</text>\n",
                left + pw / 2, h - 10));
        sb.append(f("<text x=\"16\" y=\"%d\" transform=\"rotate(-90 16 %d)\" text-anchor=\"middle\">million 4 KiB "
                + "pages per second (log)</text>\n", top + ph / 2, top + ph / 2));
        sb.append(f("<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n", left, top,
                pw, ph));
        int s = 0;
        for (String name : names) {
            double[] v = series.get(name);
            StringBuilder pts = new StringBuilder();
            for (int i = 0; i < v.length; i++) {
                if (Double.isNaN(v[i])) {
                    continue;
                }
                double x = left + (double) i / (BATCHES.length - 1) * pw;
                double y = top + ph - (Math.log10(v[i]) - ylo) / (yhi - ylo) * ph;
                pts.append(f("%.1f,%.1f ", x, y));
                sb.append(f("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", x, y, colors[s]));
            }
            sb.append(f("<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"/>\n",
                    pts.toString().trim(), colors[s]));
            sb.append(f("<text x=\"%d\" y=\"%d\" fill=\"%s\">%s</text>\n", left + pw + 12, top + 20 + 18 * s, colors[s],
                    name));
            s++;
        }
        sb.append("</svg>\n");
        return sb.toString();
    }
}
