package io.ualbridge.cli;

import io.ualbridge.Prot;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

import java.util.Locale;

/** picocli converters for sizes and protections. */
final class Converters {
    private Converters() {
    }

    /** Parses a byte count: 4096, 0x1000, 4K, 64KiB, 2M, 1G (binary units). */
    static final class Size implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            return parseSize(value);
        }
    }

    static long parseSize(String value) {
        String s = value.trim().toLowerCase(Locale.ROOT).replace("_", "");
        try {
            if (s.startsWith("0x")) {
                return Long.parseUnsignedLong(s.substring(2), 16);
            }
            int shift = 0;
            String num = s;
            for (String[] u : new String[][] {{"kib", "10"}, {"mib", "20"}, {"gib", "30"}, {"kb", "10"},
                {"mb", "20"}, {"gb", "30"}, {"k", "10"}, {"m", "20"}, {"g", "30"}, {"b", "0"}}) {
                if (s.endsWith(u[0])) {
                    num = s.substring(0, s.length() - u[0].length()).trim();
                    shift = Integer.parseInt(u[1]);
                    break;
                }
            }
            long n = Long.parseLong(num);
            if (n < 0) {
                throw new TypeConversionException("'" + value + "' is negative");
            }
            if (shift > 0 && n > (Long.MAX_VALUE >> shift)) {
                throw new TypeConversionException("'" + value + "' is too large");
            }
            return n << shift;
        } catch (NumberFormatException e) {
            throw new TypeConversionException("'" + value + "' is not a size (examples: 4096, 0x1000, 64K, 2M, 1G)");
        }
    }

    /** Parses a protection: r, w, rw (IllegalArgumentException naming the value otherwise). */
    static int parseProt(String value) {
        return switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "r", "read", "r-" -> Prot.READ;
            case "w", "write", "-w" -> Prot.WRITE;
            case "rw", "wr", "read-write" -> Prot.RW;
            default -> throw new IllegalArgumentException("'" + value + "' is not a protection: use r, w or rw");
        };
    }

    /** Parses a protection option: r, w, rw. */
    static final class ProtConverter implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String value) {
            try {
                return parseProt(value);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }
}
