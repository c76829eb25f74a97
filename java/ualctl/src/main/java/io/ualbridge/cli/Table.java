package io.ualbridge.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** An aligned text table: a header row and data rows, columns padded to their widest cell. */
final class Table {
    private final String[] headers;
    private final List<String[]> rows = new ArrayList<>();
    private final boolean[] right;
    private int omitted;
    private boolean header = true;

    Table(String... headers) {
        this.headers = headers;
        this.right = new boolean[headers.length];
    }

    /** Right-align the given columns (numbers). */
    Table rightAlign(int... columns) {
        for (int c : columns) {
            right[c] = true;
        }
        return this;
    }

    Table row(Object... cells) {
        String[] r = new String[headers.length];
        Arrays.fill(r, "");
        for (int i = 0; i < Math.min(cells.length, r.length); i++) {
            r[i] = cells[i] == null ? "-" : cells[i].toString();
        }
        rows.add(r);
        return this;
    }

    /** Print no header row (a key/value listing). */
    Table noHeader() {
        header = false;
        return this;
    }

    /** Count a row that was left out (printed as "... N more"). */
    void omit() {
        omitted++;
    }

    int size() {
        return rows.size();
    }

    void print(PrintWriter out, String indent) {
        int[] w = new int[headers.length];
        for (int i = 0; i < headers.length; i++) {
            w[i] = header ? headers[i].length() : 0;
        }
        for (String[] r : rows) {
            for (int i = 0; i < r.length; i++) {
                w[i] = Math.max(w[i], r[i].length());
            }
        }
        if (header) {
            out.println(indent + line(headers, w));
        }
        for (String[] r : rows) {
            out.println(indent + line(r, w));
        }
        if (omitted > 0) {
            out.println(indent + "... " + omitted + " more (use --json for all)");
        }
    }

    private String line(String[] cells, int[] w) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < cells.length; i++) {
            if (i > 0) {
                sb.append("  ");
            }
            String c = cells[i];
            boolean last = i == cells.length - 1;
            if (right[i]) {
                sb.append(" ".repeat(w[i] - c.length())).append(c);
            } else {
                sb.append(c);
                if (!last) {
                    sb.append(" ".repeat(w[i] - c.length()));
                }
            }
        }
        return sb.toString().stripTrailing();
    }
}
