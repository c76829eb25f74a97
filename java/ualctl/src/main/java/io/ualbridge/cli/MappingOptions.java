package io.ualbridge.cli;

import io.ualbridge.Prot;
import picocli.CommandLine.Option;

/** Options that describe a block of memory to set up: where, for whom, how much, with what protection. */
final class MappingOptions {
    @Option(names = "--target", paramLabel = "T",
            description = "Accelerator that owns the memory (default: the one after the local accelerator).")
    Integer target;

    @Option(names = "--initiator", paramLabel = "I",
            description = "Accelerator that is granted the memory, maps it and accesses it "
                    + "(default: the local accelerator).")
    Integer initiator;

    @Option(names = "--pages", paramLabel = "N", description = "Pages of 4 KiB to allocate (default: 4).")
    Long pages;

    @Option(names = "--size", paramLabel = "BYTES", converter = Converters.Size.class,
            description = "Bytes to allocate instead of --pages (4096, 64K, 2M; rounded up to 4 KiB pages).")
    Long size;

    @Option(names = "--prot", paramLabel = "r|w|rw", converter = Converters.ProtConverter.class,
            defaultValue = "rw", description = "Protection of the grant and the mappings (default: ${DEFAULT-VALUE}).")
    int prot = Prot.RW;

    @Option(names = "--contig",
            description = "Align the memory to the largest page size not above its size (2 MiB, 64 KiB), so the "
                    + "virtual mapping uses large leaves.")
    boolean contig;

    @Option(names = "--align", paramLabel = "BYTES", converter = Converters.Size.class,
            description = "Alignment of the memory: a power of two >= 4 KiB (e.g. 2M for 2 MiB leaves).")
    Long align;

    @Option(names = "--prealloc",
            description = "Allocate the IOVA range with PREALLOC: its page-table pages are reserved up front and "
                    + "the link allocates nothing.")
    boolean prealloc;

    @Option(names = "--no-grant", description = "Don't grant the memory to the initiator (to see the refusal).")
    boolean noGrant;

    static final long PAGE = 4096;

    /** Number of pages asked for; a usage error if zero, or if both --pages and --size are given. */
    long pageCount(BaseCommand cmd) {
        if (pages != null && size != null) {
            throw cmd.usage("--pages and --size are mutually exclusive: give one");
        }
        long n;
        if (size != null) {
            if (size == 0) {
                throw cmd.usage("--size must be at least 1 byte (was 0)");
            }
            n = (size + PAGE - 1) / PAGE;
        } else {
            n = pages == null ? 4 : pages;
            if (n <= 0) {
                throw cmd.usage("--pages must be at least 1 (was " + n + ")");
            }
        }
        if (n > (1L << 45)) {
            throw cmd.usage("--pages " + n + ": too many pages");
        }
        return n;
    }

    void validate(BaseCommand cmd) {
        pageCount(cmd);
        if (align != null && (align < PAGE || Long.bitCount(align) != 1)) {
            throw cmd.usage("--align " + align + ": must be a power of two of at least 4096 (4 KiB)");
        }
    }
}
