package io.ualbridge.conformance;

/**
 * A feature a conformance check may need. Backends differ: a DMA-only PCI device ({@code vfio:}) has no CPU window
 * onto device memory, a fabric may run one addressing mode only, a one-accelerator fabric has no peers. A check
 * whose capability is missing is reported as SKIP with the reason, never as PASS.
 */
public enum Capability {
    /** At least two accelerators in the fabric (peers, grants, cross-accelerator requests). */
    MULTIPLE_ACCELERATORS("at least two accelerators"),
    /** Physical addressing mode (routed fabric addresses, {@code ual_map_pfns}). */
    PHYSICAL_MODE("physical addressing mode"),
    /** Virtual addressing mode (IOVA ranges, page tables, TLB). */
    VIRTUAL_MODE("virtual addressing mode"),
    /** Both addressing modes at once. */
    BOTH_MODES("both addressing modes"),
    /** Exactly one addressing mode (so a request in the other mode faults with reason MODE). */
    SINGLE_MODE("exactly one addressing mode"),
    /** 2 MiB pages in the domain's page-size bitmap. */
    PAGES_2M("2 MiB pages"),
    /** 64 KiB contiguous entries in the domain's page-size bitmap. */
    PAGES_64K("64 KiB pages"),
    /** Host buffers can be registered ({@code ual_mem_register}). */
    HOST_REGISTRATION("host buffer registration"),
    /** The CPU reads and writes device memory ({@code ual_mem_read} / {@code ual_mem_write}). */
    CPU_MEMORY_ACCESS("CPU access to device memory"),
    /** {@code ual_alloc_count} counts the backend's allocations (test support). */
    ALLOCATION_COUNTER("an allocation counter (ual_alloc_count)"),
    /** A handle can open a second handle on its own accelerator ({@code ual_open_peer} with its own id). */
    SECOND_HANDLE("a second handle on the same accelerator");

    private final String description;

    Capability(String description) {
        this.description = description;
    }

    /**
     * Returns what the capability is, in words.
     *
     * @return for example "physical addressing mode"
     */
    public String description() {
        return description;
    }
}
