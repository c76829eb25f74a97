package io.ualbridge.cli;

import io.ualbridge.Access;
import io.ualbridge.FabricAddress;
import io.ualbridge.Prot;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/** Formatting of addresses, sizes and flags for human output. */
final class Fmt {
    private Fmt() {
    }

    /** A 57-bit address as 16 hex digits: {@code 0x0000000000400000}. */
    static String addr(long a) {
        return String.format("0x%016x", a);
    }

    /** A number in hex without padding: {@code 0x400}. */
    static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    /** A route word: {@code 0x80000001}. */
    static String route(int word) {
        return String.format("0x%08x", word);
    }

    /** Bytes in binary units: "4 KiB", "2 MiB", "1.5 MiB", "100 B". */
    static String size(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        if (bytes < 1024) {
            return bytes + " B";
        }
        int u = 0;
        double v = bytes;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        if (v == Math.rint(v)) {
            return String.format(Locale.ROOT, "%d %s", (long) v, units[u]);
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    static String sizes(List<Long> sizes) {
        return sizes.stream().map(Fmt::size).collect(Collectors.joining(", "));
    }

    static String prot(int prot) {
        return Prot.toString(prot);
    }

    static String access(int access) {
        return access == Access.WRITE ? "write" : access == Access.READ ? "read" : "access " + access;
    }

    /** A fabric address in compact form: {@code phys:1:0x...} or {@code iova:0x...}. */
    static String faddr(FabricAddress a) {
        return a.routed() ? "phys:" + a.target() + ":" + addr(a.address()) : "iova:" + addr(a.address());
    }

    static String accel(int id) {
        return id < 0 ? "-" : Integer.toString(id);
    }

    static String yesNo(boolean b) {
        return b ? "yes" : "no";
    }

    /** Names of the addressing modes in a modes bitmap (bit 0 physical, bit 1 virtual), in that order. */
    static List<String> modeNames(int modes) {
        List<String> names = new ArrayList<>();
        if ((modes & 1) != 0) {
            names.add("physical");
        }
        if ((modes & 2) != 0) {
            names.add("virtual");
        }
        return names;
    }

    static String plural(long n, String one) {
        return n + " " + (n == 1 ? one : one + "s");
    }

    static String mibPerSecond(long bytes, long nanos) {
        if (nanos <= 0) {
            return "-";
        }
        double mib = bytes / (1024.0 * 1024.0);
        return String.format(Locale.ROOT, "%.1f MiB/s", mib / (nanos / 1e9));
    }
}
